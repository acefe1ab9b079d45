import Logging
import NIOCore
import NIOHTTPTypes

/// Closes a connection that has not delivered a complete request head within `timeout` of opening, or
/// within `nextRequestTimeout` of the end of its previous response, so that connections that never send
/// a request (or send one a byte at a time, before or after a first request) cannot hold a descriptor.
/// Trickling bytes do not move either deadline: the whole head must arrive in time.
final class RequestHeadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let timeout: TimeAmount
    let nextRequestTimeout: TimeAmount
    let logger: Logger
    private var timer: Scheduled<Void>?
    private var headArrived = false

    init(timeout: TimeAmount, nextRequestTimeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.nextRequestTimeout = nextRequestTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = Self.unwrapInboundIn(data) {
            headArrived = true
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = Self.unwrapOutboundIn(data) {
            // The response is complete: the next request's head must arrive in its own time.
            headArrived = false
            arm(context, within: nextRequestTimeout)
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, within limit: TimeAmount? = nil) {
        guard timer == nil, !headArrived else { return }
        let timeout = limit ?? timeout
        let logger = logger
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            logger.debug("HTTP: closing a connection that sent no complete request head in \(timeout)",
                         metadata: ["http.client": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")"])
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

@available(*, unavailable)
extension RequestHeadTimeoutHandler: Sendable {}

/// Closes a refused connection as soon as it is active, before anything is read from it.
final class CloseAtOnceHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension CloseAtOnceHandler: Sendable {}
