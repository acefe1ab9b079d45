import Artifacts
import Foundation
import Protocol
import Transport
import Worker

/// A worker as the protocol sees it, without processes: it keeps leases with the real
/// `AttemptLeases` core, fences itself, re-sends unacknowledged reports, registers again after
/// silence, and "runs" each attempt for a drawn duration. Its outputs are written straight into
/// the coordinator's artifact store (the upload itself is tested elsewhere).
struct SimulatedWorker {
    let name: String
    var incarnation = 0
    var peer: PeerID { PeerID(Array("\(name)-\(incarnation)".utf8)) }
    var alive = true
    /// SIGSTOP: until then it handles nothing (its steps keep running, as real children do).
    var pausedUntil: Int64 = 0
    var registered = false
    var lastHeard: Int64 = 0
    var lastHello: Int64 = -1_000_000
    var helloSentAt: Int64 = 0
    var sequence: UInt64 = 0
    var sentAt: [UInt64: Int64] = [:]
    var leases = AttemptLeases(timeoutMilliseconds: 8000)
    var running: [String: (dispatch: Dispatch, startedAt: Int64, finishAt: Int64, fails: Bool)] = [:]
    var pending: [String: (report: AttemptFinished, sentAt: Int64)] = [:]
    var nextTick: Int64
    /// The CURVE public key its connection authenticates with (allowed on the coordinator).
    let key: String
    /// It lies: besides running its own attempts honestly, it claims other workers' attempts in
    /// its hellos and heartbeats, reports them finished with outputs it forged, and tries to
    /// register under other workers' names.
    var lies = false
    /// Other workers' attempts it currently claims to hold (a liar's).
    var claims: [String] = []

    init(name: String, key: String, firstTick: Int64) {
        self.name = name
        self.key = key
        self.nextTick = firstTick
    }

    func isPaused(at now: Int64) -> Bool { now < pausedUntil }

    var held: [String] { Array(Set(running.keys).union(pending.keys).union(claims)).sorted() }

    mutating func hello(now: Int64, out: inout [Message]) {
        lastHello = now
        helloSentAt = now
        let capabilities = WorkerCapabilities(cores: 2, memoryBytes: 1 << 30, slots: 2, labels: [], hostname: name)
        out.append(message(.hello(Hello(workerName: name, capabilities: capabilities, runningAttempts: held))))
    }

    mutating func heartbeat(now: Int64, out: inout [Message]) {
        sequence += 1
        sentAt[sequence] = now
        sentAt[sequence &- 64] = nil
        out.append(message(.heartbeat(Heartbeat(runningAttempts: held, sequence: sequence))))
    }

    func message(_ payload: Payload) -> Message {
        Message(envelope: Envelope(code: payload.code, messageID: 0, senderID: name), payload: payload)
    }

    /// The worker restarts as a new process: nothing survives but its name.
    mutating func restart(now: Int64) {
        incarnation += 1
        alive = true
        pausedUntil = 0
        registered = false
        leases = AttemptLeases(timeoutMilliseconds: 8000)
        running.removeAll()
        pending.removeAll()
        claims.removeAll()
        sentAt.removeAll()
        lastHeard = now
        nextTick = now
    }
}
