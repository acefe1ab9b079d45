import Foundation
import Logging
import Protocol
import Store
import Transport

/// What the coordinator knows about worker authentication.
struct WorkerSecurity {
    /// The transport's allow-list, when workers authenticate (CURVE); `nil` in plain-text mode, where
    /// no message carries a key and none is checked.
    var allowList: WorkerAllowList?
    /// The keys allowed now (Z85): what `allowList` holds, kept here too so that the check on
    /// every worker message takes no lock and decodes no key.
    var allowed: Set<String> = []
    /// Refusals already logged, as `who|reason`: each is logged once (a refused worker retries
    /// every second, and a log line each time would bury everything else).
    var loggedRefusals: Set<String> = []
    /// How many refusals ``loggedRefusals`` remembers.
    static let refusalMemory = 1024
    /// Refusals past that bound, not yet reported in a summary line, and when the last one went out.
    var unloggedRefusals = 0
    var lastUnloggedReport: Int64 = 0
}

extension CoordinatorService {
    /// Turns on worker authentication: fills `allowList` (shared with the transport's ZAP handler)
    /// with the keys allowed in the store, and from now on checks the authenticated key of every
    /// worker message. Call once, before ``run()``.
    public func enableWorkerAuthentication(_ allowList: WorkerAllowList) throws {
        let keys = try storedKeys().filter { $0.revokedAt == nil }.map(\.publicKey)
        allowList.replace(with: keys)
        security.allowList = allowList
        security.allowed = Set(keys)
        // Keys refused before now were the transport's own start-up probe (a random key that proves
        // handshakes are checked), not workers: they are not logged as refusals.
        for key in allowList.recentlyDenied { security.loggedRefusals.insert("key:\(key)|handshake") }
        logger.info("worker authentication on: \(keys.count) worker key\(keys.count == 1 ? "" : "s") allowed")
    }

    /// Every worker key ever allowed, revoked ones included.
    public func listWorkerKeys() throws -> [WorkerKeyReport] {
        try storedKeys().map(report)
    }

    /// Allows a worker public key (Z85) under `name`; a revoked key is allowed again. Takes effect
    /// at the next handshake.
    public func allowWorkerKey(_ key: String, name: String) throws -> WorkerKeyReport {
        guard WorkerAllowList.isValidKey(key) else {
            throw CoordinatorError(.invalidRequest, "\"\(key)\" is not a worker public key: expected 40 characters of Z85, as in the NAME.public file `conduit keys generate` writes")
        }
        let name = name.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw CoordinatorError(.invalidRequest, "a worker key needs a name (--name)") }
        let record = WorkerKeyRecord(publicKey: key, name: name, addedAt: wallNow())
        do {
            try store.saveWorkerKey(record)
        } catch {
            throw CoordinatorError(.storage, "cannot record the worker key: \(error)")
        }
        security.allowed.insert(key)
        security.allowList?.allow(key)
        logger.notice("worker key allowed", metadata: ["key": "\(key)", "name": "\(name)"])
        return report(record)
    }

    /// Revokes a worker public key: new handshakes with it are denied at once, and every connected
    /// worker that registered with it is told so and removed (its attempts are queued again), so
    /// nothing more is dispatched to it. The answer's `workers` are the workers dropped.
    public func revokeWorkerKey(_ key: String) throws -> WorkerKeyReport {
        let revoked: WorkerKeyRecord?
        do {
            revoked = try store.revokeWorkerKey(key, at: wallNow())
        } catch {
            throw CoordinatorError(.storage, "cannot record the revocation: \(error)")
        }
        guard let revoked else { throw CoordinatorError(.notFound, "no worker key \(key) was ever allowed") }
        security.allowed.remove(key)
        security.allowList?.revoke(key)
        let dropped = workerIDs(usingKey: key)
        for id in dropped {
            if let worker = workers[id] {
                send(.refuse(Refuse(reason: "this worker's key (\(revoked.name)) was revoked")), to: worker.peer)
            }
            removeWorker(id: id, reason: "its key \(revoked.name) was revoked")
        }
        flushOutbox()
        logger.notice("worker key revoked", metadata: ["key": "\(key)", "name": "\(revoked.name)", "dropped": "\(dropped)"])
        var answer = report(revoked)
        answer.workers = dropped
        return answer
    }

    // MARK: Hooks in message handling

    /// Whether a `hello` may register: always without authentication; with it, only when its
    /// connection's key is allowed now (it may have been revoked since the handshake). A refused
    /// worker is told why and stops.
    func admitsHello(_ message: Message, from peer: PeerID) -> Bool {
        guard security.allowList != nil else { return true }
        guard let key = message.authenticatedKey, security.allowed.contains(key) else {
            let reason = message.authenticatedKey == nil
                ? "this coordinator requires CURVE authentication"
                : "this worker's key is not allowed (it was revoked); allow it with `conduit workers allow`"
            let name: String
            if case .hello(let hello) = message.payload { name = hello.workerName } else { name = "" }
            refuseRegistration(reason, key: message.authenticatedKey, name: name, peer: peer, cause: message.envelope.messageID)
            return false
        }
        return true
    }

    /// Tells a worker why its registration is refused (it stops), and logs the refusal the first
    /// time it happens for its key (or, unauthenticated, its name) and reason.
    func refuseRegistration(
        _ reason: String, key: String?, name: String, peer: PeerID, cause: UInt64, holder: WorkerIdentity? = nil
    ) {
        send(.refuse(Refuse(reason: reason)), to: peer, cause: cause)
        let who = WorkerIdentity(key: key, name: name)
        guard noteRefusal("\(who.stored)|\(reason)") else { return }
        var metadata: Logger.Metadata = ["identity": "\(who)", "name": "\(name)", "peer": "\(peer)"]
        if let holder { metadata["holder"] = "\(holder)" }
        logger.warning("refused a worker's registration: \(reason)", metadata: metadata)
    }

    /// Logs, once per key, the handshakes the transport's ZAP handler refused because their key is
    /// not on the allow-list (those workers never reach the service; they learn of the refusal from
    /// their own handshake monitor).
    func logDeniedHandshakes() {
        guard let allowList = security.allowList else { return }
        if security.unloggedRefusals > 0, wallNow() - security.lastUnloggedReport >= 60_000 {
            logger.warning("\(security.unloggedRefusals) more worker refusals (new keys or names) were not logged one by one")
            security.unloggedRefusals = 0
            security.lastUnloggedReport = wallNow()
        }
        for key in allowList.recentlyDenied where noteRefusal("key:\(key)|handshake") {
            logger.warning(
                "refused a worker's handshake: its key is not allowed; allow it with `conduit workers allow KEY.public --name NAME`",
                metadata: ["key": "\(key)"])
        }
    }

    /// Whether a message from registered worker `workerID` really comes from it: its authenticated
    /// key must be the one the worker registered with, and still allowed. The routing id alone
    /// proves nothing (a connection may take over another's routing id), so a message with another
    /// key is rejected and the worker it claimed to be is removed; one whose key was revoked removes
    /// its worker and tells it to stop.
    func authenticates(_ message: Message, as workerID: String, from peer: PeerID) -> Bool {
        guard security.allowList != nil else { return true }
        let key = message.authenticatedKey
        if let key, !security.allowed.contains(key) {
            send(.refuse(Refuse(reason: "this worker's key was revoked")), to: peer, cause: message.envelope.messageID)
            removeWorker(id: workerID, reason: "its key was revoked")
            return false
        }
        guard let key, workers[workerID]?.key == key else {
            logger.warning("rejected a message whose key is not the one its worker registered with", metadata: ["worker": "\(workerID)", "peer": "\(peer)"])
            removeWorker(id: workerID, reason: "a connection with another key took over its routing id")
            send(.refuse(Refuse(reason: "unknown worker: send hello first", helloRequired: true)), to: peer, cause: message.envelope.messageID)
            return false
        }
        return true
    }

    // MARK: Helpers

    /// Whether a refusal is new and may be logged on its own line. The memory of refusals is
    /// bounded: anyone who reaches the endpoint can make up keys, so past the bound refusals are
    /// only counted, and the count is logged once a minute.
    private func noteRefusal(_ entry: String) -> Bool {
        if security.loggedRefusals.contains(entry) { return false }
        guard security.loggedRefusals.count < WorkerSecurity.refusalMemory else {
            security.unloggedRefusals += 1
            return false
        }
        security.loggedRefusals.insert(entry)
        return true
    }

    /// The connected workers registered with `key`, sorted.
    private func workerIDs(usingKey key: String) -> [String] {
        workers.values.filter { $0.key == key }.map(\.id).sorted()
    }

    private func storedKeys() throws -> [WorkerKeyRecord] {
        do {
            return try store.workerKeys()
        } catch {
            throw CoordinatorError(.storage, "cannot read the worker keys: \(error)")
        }
    }

    private func report(_ record: WorkerKeyRecord) -> WorkerKeyReport {
        let users = workerIDs(usingKey: record.publicKey)
        return WorkerKeyReport(
            publicKey: record.publicKey, name: record.name, addedAt: record.addedAt, revokedAt: record.revokedAt, workers: users)
    }
}
