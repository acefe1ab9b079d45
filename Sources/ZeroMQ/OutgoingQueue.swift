/// Which of a socket's two send queues a message waits in; see ``ZMQSocket/send(_:lane:)``.
public enum OutgoingLane: Sendable, Hashable {
    /// Heartbeats, acknowledgements, dispatches: go before anything in the bulk lane.
    case control
    /// Chunks of a transfer: go when no control message waits.
    case bulk
}

/// Multipart messages waiting for the loop thread to hand them to libzmq, in two FIFO lanes, with the
/// progress of the message at the head (frames already accepted by libzmq when a later frame hit `EAGAIN`).
///
/// The head is the oldest control message if there is one, else the oldest bulk message, so a control
/// message never waits behind queued bulk messages; order within each lane is kept. A message whose first
/// frames libzmq already took stays the head until it is sent whole (multipart messages are atomic).
///
/// Push and pop are amortised O(1): popped slots are released at once and compacted in bulk.
struct OutgoingQueue {
    private var control = Lane()
    private var bulk = Lane()
    /// The lane of a head message handed over in part; `nil` while no frame of the head has gone.
    private var pinnedLane: OutgoingLane?

    /// Index of the next frame of the head message to send. Setting it above 0 pins the head.
    var nextFrame = 0 {
        didSet {
            if nextFrame > 0 && pinnedLane == nil { pinnedLane = headLane }
        }
    }

    var isEmpty: Bool { control.isEmpty && bulk.isEmpty }

    var count: Int { control.count + bulk.count }

    /// The lane of the message ``first`` returns, if any.
    var headLane: OutgoingLane? {
        if let pinnedLane { return pinnedLane }
        if !control.isEmpty { return .control }
        return bulk.isEmpty ? nil : .bulk
    }

    /// The message to send next, if any.
    var first: [[UInt8]]? {
        switch headLane {
        case .control: control.first
        case .bulk: bulk.first
        case nil: nil
        }
    }

    mutating func append(_ frames: [[UInt8]], lane: OutgoingLane = .control) {
        switch lane {
        case .control: control.append(frames)
        case .bulk: bulk.append(frames)
        }
    }

    /// Removes the head message and resets the frame progress.
    mutating func removeFirst() {
        switch headLane {
        case .control: control.removeFirst()
        case .bulk: bulk.removeFirst()
        case nil: preconditionFailure("OutgoingQueue.removeFirst on an empty queue")
        }
        nextFrame = 0
        pinnedLane = nil
    }

    /// Removes every message.
    mutating func removeAll() {
        control = Lane()
        bulk = Lane()
        nextFrame = 0
        pinnedLane = nil
    }

    /// One FIFO of messages.
    private struct Lane {
        private var storage: [[[UInt8]]] = []
        private var headIndex = 0

        var isEmpty: Bool { headIndex == storage.count }

        var count: Int { storage.count - headIndex }

        var first: [[UInt8]]? { isEmpty ? nil : storage[headIndex] }

        mutating func append(_ frames: [[UInt8]]) {
            storage.append(frames)
        }

        mutating func removeFirst() {
            storage[headIndex] = []
            headIndex += 1
            if headIndex == storage.count {
                storage.removeAll(keepingCapacity: storage.capacity <= 4096)
                headIndex = 0
            } else if headIndex >= 1024 && headIndex * 2 >= storage.count {
                storage.removeFirst(headIndex)
                headIndex = 0
            }
        }
    }
}
