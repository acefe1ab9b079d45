import Artifacts
import Foundation
import Protocol
import Transport
import Worker

/// A worker in the simulation: the real `WorkerCore` (registration, leases, fencing, reports
/// re-sent until acknowledged, the slot queue, draining), with processes replaced by executions
/// that "run" for a drawn duration. Their outputs are written straight into the coordinator's
/// artifact store (the upload itself is tested elsewhere).
struct SimulatedWorker {
    /// A step's stand-in process.
    struct Execution {
        var dispatch: Dispatch
        var startedAt: Int64
        var finishAt: Int64
        /// It exits with code 1.
        var fails: Bool
        /// It was sent SIGTERM (canceled, or stopped by a drain): it ends killed.
        var stopped = false
    }

    static let slots = 2

    let name: String
    var incarnation = 0
    var peer: PeerID { PeerID(Array("\(name)-\(incarnation)".utf8)) }
    var alive = true
    /// SIGSTOP: until then it handles nothing (its steps keep running, as real children do).
    var pausedUntil: Int64 = 0
    var settings: WorkerCore.Settings
    var core: WorkerCore
    var executions: [String: Execution] = [:]
    var nextTick: Int64
    /// The CURVE public key its connection authenticates with (allowed on the coordinator).
    let key: String
    /// It keeps its own lease length, whatever the coordinator says at registration (a scripted
    /// schedule shows what a lease longer than the coordinator's timeout would do).
    var keepsItsLease = false
    /// It lies: besides running its own attempts honestly, it claims other workers' attempts in
    /// its hellos and heartbeats, reports them finished with outputs it forged, and tries to
    /// register under other workers' names.
    var lies = false
    /// Other workers' attempts it currently claims to hold (a liar's).
    var claims: [String] = []

    init(name: String, key: String, settings: WorkerCore.Settings, firstTick: Int64) {
        self.name = name
        self.key = key
        self.settings = settings
        self.core = WorkerCore(settings: settings)
        self.nextTick = firstTick
    }

    func isPaused(at now: Int64) -> Bool { now < pausedUntil }

    var capabilities: WorkerCapabilities {
        WorkerCapabilities(cores: 2, memoryBytes: 1 << 30, slots: Self.slots, labels: [], hostname: name)
    }

    func message(_ payload: Payload) -> Message {
        Message(envelope: Envelope(code: payload.code, messageID: 0, senderID: name), payload: payload)
    }

    /// The worker restarts as a new process: nothing survives but its name and key.
    mutating func restart(now: Int64) {
        incarnation += 1
        alive = true
        pausedUntil = 0
        core = WorkerCore(settings: settings)
        executions.removeAll()
        claims.removeAll()
        nextTick = now
    }
}
