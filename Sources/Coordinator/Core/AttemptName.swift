/// How the coordinator names the attempts of a step: `RUN-POSITION-NUMBER`, where POSITION is the
/// step's index in its run's plan and NUMBER counts its attempts in that run from 1.
///
/// Every attempt has its own name, so its log (`logs/NAME.log`) is never overwritten by a retry.
public struct AttemptName: Hashable, Sendable {
    public var runID: String
    /// The step's index in the plan's topological order.
    public var position: Int
    /// 1 for the first attempt, 2 for the first retry, and so on.
    public var number: Int

    public init(runID: String, position: Int, number: Int) {
        self.runID = runID
        self.position = position
        self.number = number
    }

    /// Reads a name this type wrote; nil for anything else. Run ids hold dashes, so the two
    /// numbers are read from the end.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, let number = Int(parts[parts.count - 1]), number >= 1,
              let position = Int(parts[parts.count - 2]), position >= 0 else { return nil }
        let runID = parts.dropLast(2).joined(separator: "-")
        guard !runID.isEmpty else { return nil }
        self.init(runID: runID, position: position, number: number)
    }

    /// The attempt id, as dispatched and stored.
    public var text: String { "\(runID)-\(position)-\(number)" }
}
