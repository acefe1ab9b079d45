import Logging
import NIOCore
import NIOHTTPTypes

/// Closes a connection that has not delivered a complete request head within `timeout` of opening, so that
/// connections that never send a request (or send it a byte at a time) cannot hold a descriptor.
///
/// Once the first head has arrived, Hummingbird's idle timeout takes over between requests.
final class RequestHeadTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let timeout: TimeAmount
    let logger: Logger
    private var timer: Scheduled<Void>?
    private var headArrived = false

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
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

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil, !headArrived else { return }
        let timeout = timeout
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
