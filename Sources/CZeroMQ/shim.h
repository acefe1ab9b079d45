#ifndef CONDUIT_CZEROMQ_SHIM_H
#define CONDUIT_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
