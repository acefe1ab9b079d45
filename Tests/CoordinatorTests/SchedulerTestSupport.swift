@testable import Coordinator

// Shorthands for tests of slot-only placement: a worker with only labels and slots, attempts
// that ask for one core and no GPU.
extension Scheduler.Event {
    static func workerJoined(id: String, labels: Set<String>, slots: Int, holding: [String] = []) -> Self {
        .workerJoined(id: id, capacity: WorkerCapacity(labels: labels, slots: slots), holding: holding.map { Scheduler.Held(attemptID: $0) })
    }

    static func attach(attemptID: String, workerID: String) -> Self {
        .attach(Scheduler.Held(attemptID: attemptID), workerID: workerID)
    }
}

extension Scheduler {
    /// Why an attempt asking only for `label` is not placed.
    func waitingReason(label: String?) -> String {
        waitingReason(Requirement(label: label))
    }
}

extension Scheduler.Action {
    static func dispatch(attemptID: String, workerID: String) -> Self {
        .dispatch(attemptID: attemptID, workerID: workerID, gpuDevices: [])
    }
}
