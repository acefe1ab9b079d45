import Foundation

/// Runs `body` (which blocks: it waits for a child process) on a thread of its own and returns
/// its result. A test must not block a thread of the cooperative pool (there are as many as
/// cores), which the async tests running beside it need.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
