/// A FIFO of multipart messages waiting for the loop thread to hand them to libzmq, with the progress of
/// the message at its head (frames already accepted by libzmq when a later frame hit `EAGAIN`).
///
/// Push and pop are amortised O(1): popped slots are released at once and compacted in bulk.
struct OutgoingQueue {
    private var storage: [[[UInt8]]] = []
    private var headIndex = 0
    /// Index of the next frame of the head message to send.
    var nextFrame = 0

    var isEmpty: Bool { headIndex == storage.count }

    var count: Int { storage.count - headIndex }

    /// The oldest message, if any.
    var first: [[UInt8]]? { isEmpty ? nil : storage[headIndex] }

    mutating func append(_ frames: [[UInt8]]) {
        storage.append(frames)
    }

    /// Removes the head message and resets the frame progress.
    mutating func removeFirst() {
        precondition(!isEmpty, "OutgoingQueue.removeFirst on an empty queue")
        storage[headIndex] = []
        headIndex += 1
        nextFrame = 0
        if headIndex == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 4096)
            headIndex = 0
        } else if headIndex >= 1024 && headIndex * 2 >= storage.count {
            storage.removeFirst(headIndex)
            headIndex = 0
        }
    }

    /// Removes every message.
    mutating func removeAll() {
        storage = []
        headIndex = 0
        nextFrame = 0
    }
}
