import Glibc

/// Long-lived threads that run `ChildOutputReader`s, so that a child costs no thread creation
/// (a stack `mmap` and a `clone`, a quarter of the worker's time per short attempt).
///
/// A reader is handed to an idle thread when there is one, else to a new thread. A thread that
/// has been idle for a minute exits. Readers block in `poll`, so they never run on the cooperative
/// pool. `@unchecked Sendable`: all state is behind `mutex`.
///
/// The mutex and condition live in memory allocated once (never in stored properties): pthreads needs
/// them at a fixed address, which `&property` of a Swift class does not promise.
final class ReaderThreads: @unchecked Sendable {
    static let shared = ReaderThreads()

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeUp = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [ChildOutputReader] = []
    private var idle = 0
    private static let idleSeconds = 60

    private init() {
        mutex.initialize(to: pthread_mutex_t())
        wakeUp.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(wakeUp, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// Runs `reader` on a pooled thread; returns the `pthread_create` error number when no
    /// thread was idle and none could be created.
    func run(_ reader: ChildOutputReader) -> Int32? {
        pthread_mutex_lock(mutex)
        queue.append(reader)
        if idle > 0 {
            pthread_cond_signal(wakeUp)
            pthread_mutex_unlock(mutex)
            return nil
        }
        pthread_mutex_unlock(mutex)
        if let failure = spawnThread() {
            pthread_mutex_lock(mutex)
            // Take the reader back unless an idle thread picked it up meanwhile.
            let index = queue.lastIndex { $0.pid == reader.pid }
            if let index { queue.remove(at: index) }
            pthread_mutex_unlock(mutex)
            return index == nil ? nil : failure
        }
        return nil
    }

    private func spawnThread() -> Int32? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 256 * 1024)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let context = Unmanaged.passUnretained(self).toOpaque()
        let result = pthread_create(&thread, &attributes, { context in
            Unmanaged<ReaderThreads>.fromOpaque(context!).takeUnretainedValue().serve()
            return nil
        }, context)
        return result == 0 ? nil : result
    }

    /// A pooled thread's life: run readers until idle for `idleSeconds`.
    private func serve() {
        while let reader = next() {
            reader.run()
        }
    }

    private func next() -> ChildOutputReader? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_sec += Self.idleSeconds
        while queue.isEmpty {
            idle += 1
            let result = pthread_cond_timedwait(wakeUp, mutex, &deadline)
            idle -= 1
            if result == ETIMEDOUT && queue.isEmpty { return nil }
        }
        return queue.removeFirst()
    }
}
