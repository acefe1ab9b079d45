import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 channel behind the connection limits and the request-head timeout: a connection the
/// ``ConnectionGuard`` refuses is closed as soon as it is accepted, before anything is read from it.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let connections: ConnectionGuard

    /// An HTTP/1 channel answering with `responder` under `settings`.
    init(responder: @escaping HTTPChannelHandler.Responder, settings: HTTPServerSettings, connections: ConnectionGuard) {
        let headTimeout = TimeAmount(settings.requestHeadTimeout)
        let logger = connections.logger
        self.inner = HTTP1Channel(
            responder: responder,
            configuration: .init(
                additionalChannelHandlers: [RequestHeadTimeoutHandler(timeout: headTimeout, nextRequestTimeout: TimeAmount(settings.idleTimeout), logger: logger)],
                idleTimeout: TimeAmount(settings.idleTimeout)))
        self.connections = connections
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        if !connections.admit(channel) {
            do {
                try channel.pipeline.syncOperations.addHandler(CloseAtOnceHandler(), position: .first)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
