import Hummingbird
import Synchronization

/// When the API last answered a request: the local service stays up while clients talk to it.
public final class RequestActivity: Sendable {
    private let last = Atomic<Int64>(0)
    private static let clock = ContinuousClock()
    private static let origin = clock.now

    public init() {}

    /// Notes a request now.
    public func touch() {
        let elapsed = Self.origin.duration(to: Self.clock.now)
        last.store(elapsed.components.seconds, ordering: .relaxed)
    }

    /// Whole seconds since the last request (since start-up when none came).
    public var secondsSinceLastRequest: Int64 {
        Self.origin.duration(to: Self.clock.now).components.seconds - last.load(ordering: .relaxed)
    }
}

/// Notes every request in a `RequestActivity`, then passes it on.
struct ActivityResponder<Inner: HTTPResponder>: HTTPResponder {
    typealias Context = Inner.Context
    let inner: Inner
    let activity: RequestActivity

    @Sendable func respond(to request: Request, context: Context) async throws -> Response {
        activity.touch()
        defer { activity.touch() }
        return try await inner.respond(to: request, context: context)
    }
}
