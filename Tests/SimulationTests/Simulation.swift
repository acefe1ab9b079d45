import Artifacts
import Foundation
import Logging
import Protocol
import Spec
import Store
import TestKit
import Transport
import Worker
@testable import Coordinator

/// One seeded schedule: a coordinator (the real `CoordinatorService`, over a real store), two or
/// three simulated workers, a network that drops, delays, duplicates and reorders messages, a
/// manual clock, and faults: workers killed, stopped and cut off, the coordinator killed and
/// restarted. After the faults stop, the network is reliable and the run must end. Invariants
/// are checked as it goes and at the end; a violation names the seed, which replays it exactly.
final class Simulation {
    let seed: UInt64
    var random: SeededGenerator
    let clock = ManualClock(milliseconds: 1_000_000)
    let directory: String
    let transport = SimulatedCoordinatorTransport()
    var service: CoordinatorService?
    var coordinatorDownUntil: Int64 = 0
    var coordinatorNextTick: Int64
    var workers: [SimulatedWorker] = []
    var flights: [Flight] = []
    var order = 0
    var now: Int64 { clock.milliseconds }
    let start: Int64
    /// Faults and lossy delivery stop after this; the run must end within `deadline`.
    let calmAt: Int64
    let deadline: Int64
    var cutUntil: [String: (toCoordinator: Int64, toWorker: Int64)] = [:]
    var plan: PipelinePlan!
    var runID = ""
    var blobs: BlobStore!

    // What the invariants need.
    var violations: [String] = []
    /// attempt → the outputs the simulated worker produced for it.
    var produced: [String: [String: String]] = [:]
    /// attempts whose success was acknowledged as accepted.
    var acknowledged: [String: [String: String]] = [:]
    var faults: [String] = []
    var dispatches = 0
    var trace: [String] = []
    var restarts = 0
    /// attempt → the worker it was dispatched to (what a liar guesses from: it knows every id).
    var dispatchedTo: [String: String] = [:]
    /// Output digests a liar forged: none may ever be recorded.
    var forged: Set<String> = []
    /// attempt → the output the liar forged for it (stored once).
    var forgedOutputs: [String: String] = [:]
    /// Claims and forged reports a liar sent.
    var lies = 0

    /// A scripted schedule instead of random faults: one long step, a reliable network, and one
    /// cut of the worker→coordinator direction of the worker running it.
    struct Script {
        var stepMilliseconds: Int64
        var workerLeaseMilliseconds: Int64
        var cutAt: Int64
        var cutMilliseconds: Int64
    }
    let script: Script?

    init(seed: UInt64, root: String, script: Script? = nil) throws {
        self.script = script
        self.seed = seed
        random = SeededGenerator(seed: seed)
        // Scripted schedules get their own directories: random ones may run with the same seed at once.
        directory = root + (script.map { "/script-\(seed)-\($0.workerLeaseMilliseconds)" } ?? "/sim-\(seed)")
        try? FileManager.default.removeItem(atPath: directory)
        start = 1_000_000
        calmAt = script == nil ? start + 45_000 : start
        deadline = start + 240_000
        coordinatorNextTick = start + 1000
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The coordinator, authenticating workers by key as in production: every simulated worker's
    /// key (the liar's included: it is allowed, it just lies) is on its allow-list.
    func makeService() async throws -> CoordinatorService {
        let configuration = CoordinatorConfiguration(
            dataDirectory: directory, failurePolicy: FailurePolicy(), freeSpace: { _ in 1 << 40 }, clock: clock.serviceClock
        )
        let service = try CoordinatorService(configuration: configuration, transport: transport, logger: Logger(label: "conduit.simulation", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await service.enableWorkerAuthentication(WorkerAllowList())
        let allowed = Set(try await service.listWorkerKeys().map(\.publicKey))
        for worker in workers where !allowed.contains(worker.key) {
            _ = try await service.allowWorkerKey(worker.key, name: worker.name)
        }
        return service
    }

    /// A random DAG of 3 to 6 steps, each reading one or two earlier steps' outputs; some
    /// steps may retry a user failure once.
    func makePlan() -> PipelinePlan {
        let count = script == nil ? Int.random(in: 3...6, using: &random) : 1
        var steps: [PlannedStep] = []
        for index in 0..<count {
            var inputs: [StepDataInput] = []
            if index > 0 {
                let upstream = Set((0..<Int.random(in: 1...min(2, index), using: &random)).map { _ in Int.random(in: 0..<index, using: &random) })
                for producer in upstream.sorted() {
                    inputs.append(StepDataInput(name: "in\(producer)", type: .uriFolder, source: .stepOutput(step: "s\(producer)", output: "out")))
                }
            }
            let retry = random.chance(0.3) ? RetrySettings(attempts: 2, backoffMilliseconds: 1000) : nil
            steps.append(PlannedStep(
                name: "s\(index)", commandTemplate: "step \(index)", command: CommandTemplate(segments: [.text("true")]),
                inputs: inputs, outputs: [StepDataOutput(name: "out", type: .uriFolder)], retry: retry
            ))
        }
        if script == nil, random.chance(0.4) { steps += makeSweep(after: count) }
        return PipelinePlan(name: "sim", sourceFile: "/sim.yml", settings: PipelineSettings(), steps: steps, outputs: [])
    }

    /// A sweep `sw` of 2 to 4 trials (`sw/trial_N`, each reading an earlier step's output, with a
    /// random limit on trials at once) and a step `after` that reads the best trial's output.
    func makeSweep(after count: Int) -> [PlannedStep] {
        let trialCount = Int.random(in: 2...4, using: &random)
        let limit = random.chance(0.5) ? Int.random(in: 1...2, using: &random) : nil
        var steps: [PlannedStep] = []
        var trials: [SweepTrial] = []
        var sweepInputs: [StepDataInput] = []
        for index in 0..<trialCount {
            let name = "sw/trial_\(index)"
            let producer = Int.random(in: 0..<count, using: &random)
            var trial = PlannedStep(
                name: name, commandTemplate: "trial \(index)", command: CommandTemplate(segments: [.text("true")]),
                parameters: ["x": "\(index)"],
                inputs: [StepDataInput(name: "data", type: .uriFolder, source: .stepOutput(step: "s\(producer)", output: "out"))],
                outputs: [StepDataOutput(name: "out", type: .uriFolder)]
            )
            trial.trialOf = "sw"
            steps.append(trial)
            trials.append(SweepTrial(step: name, point: ["x": "\(index)"]))
            sweepInputs.append(StepDataInput(name: SweepSelection.inputName(trial: name, output: "out"), type: .uriFolder, source: .stepOutput(step: name, output: "out")))
        }
        var sweep = PlannedStep(name: "sw", commandTemplate: "", command: CommandTemplate(segments: []), inputs: sweepInputs, outputs: [StepDataOutput(name: "out", type: .uriFolder)])
        sweep.sweep = SweepSelection(
            objective: SweepObjective(goal: .maximize, primaryMetric: "score"), sampling: .grid,
            limits: SweepLimits(maxTotalTrials: trialCount, maxConcurrentTrials: limit), trials: trials
        )
        steps.append(sweep)
        steps.append(PlannedStep(
            name: "after", commandTemplate: "after", command: CommandTemplate(segments: [.text("true")]),
            inputs: [StepDataInput(name: "best", type: .uriFolder, source: .stepOutput(step: "sw", output: "out"))],
            outputs: [StepDataOutput(name: "out", type: .uriFolder)]
        ))
        return steps
    }

    // MARK: Running

    /// A worker's settings: the production defaults, but drains of 1 to 20 s.
    func workerSettings() -> WorkerCore.Settings {
        WorkerCore.Settings(
            slots: SimulatedWorker.slots, leaseMilliseconds: script?.workerLeaseMilliseconds ?? 8000,
            drainMilliseconds: Int64.random(in: 1000...20_000, using: &random)
        )
    }

    func run() async throws {
        // Two or three honest workers and, in random schedules, one that lies.
        let workerCount = Int.random(in: 2...3, using: &random)
        for index in 0..<workerCount {
            var worker = SimulatedWorker(name: "w\(index)", key: try TestKeys.publicKey(), settings: workerSettings(), firstTick: start + Int64.random(in: 0..<1000, using: &random))
            worker.keepsItsLease = script != nil
            workers.append(worker)
        }
        if script == nil {
            var liar = SimulatedWorker(name: "liar", key: try TestKeys.publicKey(), settings: workerSettings(), firstTick: start + Int64.random(in: 0..<1000, using: &random))
            liar.lies = true
            workers.append(liar)
        }
        service = try await makeService()
        blobs = try BlobStore(root: directory + "/blobs")
        await service!.restore()
        plan = makePlan()
        runID = try await service!.submit(SubmitRequest(planJSON: PlanJSON.encode(plan), localInputs: [:], code: [:], force: []), plan: plan)
        collect()
        for index in workers.indices {
            apply(workers[index].core.on(.started(moment)), worker: index)
        }
        var cutDone = false
        while now < deadline {
            if let script, !cutDone, now >= start + script.cutAt,
               let holder = workers.firstIndex(where: { !$0.executions.isEmpty }) {
                cutDone = true
                faults.append("t+\(now - start) cut \(workers[holder].name) for \(script.cutMilliseconds) ms (worker→coordinator)")
                cutUntil[workers[holder].name] = (now + script.cutMilliseconds, now)
            }
            if now >= calmAt, try await runEnded() { break }
            let next = nextEventTime()
            clock.set(max(now, min(next, deadline)))
            if now < calmAt { try await injectFaults() }
            try await deliverDue()
            await finishDueAttempts()
            try await runTicks()
        }
        try await checkFinal()
    }

    func nextEventTime() -> Int64 {
        var next = now + 1000
        if let flight = flights.min(by: { ($0.due, $0.order) < ($1.due, $1.order) }) { next = min(next, flight.due) }
        for worker in workers where worker.alive {
            // A stopped worker does nothing until it resumes.
            if worker.isPaused(at: now) {
                next = min(next, worker.pausedUntil)
                continue
            }
            next = min(next, worker.nextTick)
            for execution in worker.executions.values { next = min(next, execution.finishAt) }
        }
        if service != nil { next = min(next, coordinatorNextTick) } else { next = min(next, coordinatorDownUntil) }
        if now < calmAt { next = min(next, max(nextFaultAt, now + 1)) }
        if script != nil { next = min(next, now + 100) }
        if let due = restartLater.map(\.due).min() { next = min(next, due) }
        return max(next, now + 1)
    }

    // MARK: Network

    var lossy: Bool { now < calmAt }

    func post(_ message: Message, from worker: Int) {
        let name = workers[worker].name
        if let cut = cutUntil[name], cut.toCoordinator > now { return }
        // What CURVE's handshake proved about the sending connection.
        var message = message
        message.authenticatedKey = workers[worker].key
        schedule(message, to: .coordinator(from: workers[worker].peer))
    }

    func schedule(_ message: Message, to destination: Destination) {
        var copies = 1
        if lossy {
            if random.chance(0.03) { return }
            if random.chance(0.03) { copies = 2 }
        }
        for _ in 0..<copies {
            let delay: Int64 = lossy
                ? (random.chance(0.03) ? Int64.random(in: 500...4000, using: &random) : Int64.random(in: 0...200, using: &random))
                : Int64.random(in: 1...20, using: &random)
            order += 1
            flights.append(Flight(due: now + delay, order: order, destination: destination, message: message, sentAt: now))
        }
    }

    /// Hands what the coordinator sent to the network.
    func collect() {
        for (message, peer) in transport.takeSent() {
            if let index = workers.firstIndex(where: { $0.peer == peer }), let cut = cutUntil[workers[index].name], cut.toWorker > now { continue }
            schedule(message, to: .worker(peer))
        }
    }

    func deliverDue() async throws {
        while let index = flights.indices.filter({ flights[$0].due <= now }).min(by: { (flights[$0].due, flights[$0].order) < (flights[$1].due, flights[$1].order) }) {
            let flight = flights.remove(at: index)
            switch flight.destination {
            case .coordinator(let peer):
                guard let service else { continue }
                await service.handle(.message(peer, flight.message))
                collect()
            case .worker(let peer):
                guard let worker = workers.firstIndex(where: { $0.peer == peer && $0.alive }) else { continue }
                if workers[worker].isPaused(at: now) {
                    // A stopped process reads its socket when it resumes.
                    var later = flight
                    later.due = workers[worker].pausedUntil
                    flights.append(later)
                    continue
                }
                try await workerHandle(flight.message, worker: worker)
            }
        }
    }

    // MARK: Workers

    var moment: WorkerCore.Now { WorkerCore.Now(monotonic: now, wall: now) }

    /// A message reaches a worker: the real core decides; the liar's own checks come first.
    func workerHandle(_ message: Message, worker index: Int) async throws {
        var payload = message.payload
        let worker = workers[index]
        switch payload {
        case .welcome(var welcome) where worker.keepsItsLease:
            welcome.leaseMilliseconds = 0
            payload = .welcome(welcome)
        case .refuse(let refuse) where worker.lies && refuse.helloRequired != true:
            // The liar shrugs off the refusals of the names it tried to take.
            return
        case .heartbeat(let heartbeat) where worker.lies:
            if let stolen = heartbeat.runningAttempts.first(where: { dispatchedTo[$0] != nil && dispatchedTo[$0] != worker.name }) {
                violations.append("t+\(now - start): the coordinator holds \(stolen) (dispatched to \(dispatchedTo[stolen]!)) on the liar")
            }
        case .dispatch(let dispatch):
            if dispatchedTo[dispatch.attemptID] == nil {
                dispatches += 1
                dispatchedTo[dispatch.attemptID] = worker.name
                trace.append("t+\(now - start) \(worker.name) got \(dispatch.attemptID.split(separator: "-").suffix(2).joined(separator: "-"))")
                try await checkInputs(of: dispatch)
            } else if dispatchedTo[dispatch.attemptID] != worker.name {
                violations.append("t+\(now - start): \(dispatch.attemptID), dispatched to \(dispatchedTo[dispatch.attemptID]!), was dispatched again to \(worker.name)")
            }
        case .attemptAcknowledged(let ack):
            if worker.lies, ack.accepted, dispatchedTo[ack.attemptID] != worker.name {
                violations.append("t+\(now - start): the liar's report on \(ack.attemptID) (dispatched to \(dispatchedTo[ack.attemptID] ?? "nobody")) was accepted")
            }
            if let pending = worker.core.pendingReport(ack.attemptID), ack.accepted, pending.outcome == .succeeded {
                acknowledged[ack.attemptID] = pending.outputs
            }
        default:
            break
        }
        apply(workers[index].core.on(.received(payload, moment)), worker: index)
    }

    /// Carries out what a worker's core decided, as `WorkerService` does with processes.
    func apply(_ actions: [WorkerCore.Action], worker index: Int) {
        for action in actions {
            guard workers[index].alive else { return }
            switch action {
            case .sendHello(let held):
                let worker = workers[index]
                post(worker.message(.hello(Hello(workerName: worker.name, capabilities: worker.capabilities, runningAttempts: (held + worker.claims).sorted()))), from: index)
            case .send(.heartbeat(var heartbeat)):
                heartbeat.runningAttempts = (heartbeat.runningAttempts + workers[index].claims).sorted()
                post(workers[index].message(.heartbeat(heartbeat)), from: index)
            case .send(let payload):
                post(workers[index].message(payload), from: index)
            case .start(let dispatch):
                // Most steps are short; some outlive leases and timeouts.
                let duration = script?.stepMilliseconds
                    ?? (random.chance(0.7) ? Int64.random(in: 100...3000, using: &random) : Int64.random(in: 5000...25_000, using: &random))
                workers[index].executions[dispatch.attemptID] = SimulatedWorker.Execution(
                    dispatch: dispatch, startedAt: now, finishAt: now + duration, fails: script == nil && random.chance(0.1)
                )
                if dispatch.step.hasPrefix("sw/") {
                    // A trial reports its objective as it starts.
                    let score = Double(Int.random(in: 0...100, using: &random)) / 100
                    post(workers[index].message(.metrics(Metrics(attemptID: dispatch.attemptID, values: ["score": score]))), from: index)
                }
            case .stop(let id, let immediately):
                guard var execution = workers[index].executions[id] else { continue }
                execution.stopped = true
                // SIGKILL ends it now; SIGTERM within the grace period.
                execution.finishAt = min(execution.finishAt, now + (immediately ? 0 : Int64.random(in: 10...2000, using: &random)))
                workers[index].executions[id] = execution
                if immediately { finish(id, worker: index) }
            case .refused(let reason):
                // The process exits; its supervisor starts it again a little later.
                faults.append("t+\(now - start) \(workers[index].name) refused: \(reason)")
                workers[index].alive = false
                restartLater.append((now + Int64.random(in: 1000...5000, using: &random), index))
            case .leave:
                // Drained: the process exits, and its supervisor starts it again later.
                workers[index].alive = false
                restartLater.append((now + Int64.random(in: 500...10_000, using: &random), index))
            case .registered, .abandonTransfers, .resumeUploads, .retryStalledUploads, .forgetCoordinatorBlobs, .log:
                break  // the data plane and the log are not simulated
            }
        }
    }

    /// An execution ends: it reports what it found to the core.
    func finish(_ id: String, worker index: Int) {
        guard let execution = workers[index].executions.removeValue(forKey: id) else { return }
        let report: AttemptFinished
        if execution.stopped {
            report = AttemptFinished(attemptID: id, outcome: .failed, signal: 15, startedAt: execution.startedAt, endedAt: now, message: "killed by signal 15")
        } else if execution.fails {
            report = AttemptFinished(attemptID: id, outcome: .failed, exitCode: 1, startedAt: execution.startedAt, endedAt: now, message: "exit code 1")
        } else {
            // The bytes differ per attempt, so the records show which attempt's outputs won.
            let outputs = (try? storeOutput("\(execution.dispatch.step) by \(id)")).map { ["out": $0] } ?? [:]
            produced[id] = outputs
            report = AttemptFinished(attemptID: id, outcome: .succeeded, exitCode: 0, outputs: outputs, startedAt: execution.startedAt, endedAt: now)
        }
        apply(workers[index].core.on(.executionEnded(report, moment)), worker: index)
    }

    /// No step runs before its inputs: every input of a dispatch is the recorded output of the
    /// upstream step, which is completed.
    func checkInputs(of dispatch: Dispatch) async throws {
        guard let service, let planned = plan.steps.first(where: { $0.name == dispatch.step }) else { return }
        for input in planned.inputs {
            guard case .stepOutput(let producer, let output) = input.source else { continue }
            let sent = dispatch.inputs.first { $0.name == input.name }?.artifact
            let record = try await service.store.step(runID: runID, name: producer)
            let outputs = record?.outputsJSON.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
            if record?.status != .completed || outputs[output] == nil || outputs[output] != sent {
                violations.append("step \(dispatch.step) was dispatched (\(dispatch.attemptID)) before its input \(producer).\(output) was recorded (status \(record?.status.rawValue ?? "none"))")
            }
        }
    }

    func finishDueAttempts() async {
        for index in workers.indices where workers[index].alive && !workers[index].isPaused(at: now) {
            for id in workers[index].executions.keys.sorted() where workers[index].executions[id].map({ $0.finishAt <= now }) == true {
                finish(id, worker: index)
            }
        }
    }

    func storeOutput(_ text: String) throws -> String {
        let blob = try blobs.put(Array(text.utf8))
        let manifest = try TreeManifest(kind: .folder, entries: [.file(path: "result.txt", size: Int64(text.utf8.count), digest: blob)])
        return try blobs.put(manifest).hex
    }

    func runTicks() async throws {
        if let service, now >= coordinatorNextTick {
            coordinatorNextTick = now + 1000
            await service.tick()
            collect()
        }
        if service == nil, now >= coordinatorDownUntil {
            let restarted = try await makeService()
            service = restarted
            restarts += 1
            await restarted.restore()
            coordinatorNextTick = now + 1000
            collect()
        }
        for index in workers.indices where workers[index].alive && !workers[index].isPaused(at: now) && now >= workers[index].nextTick {
            workers[index].nextTick = now + 1000
            apply(workers[index].core.on(.tick(moment)), worker: index)
            if workers[index].lies, workers[index].alive {
                var out: [Message] = []
                var liar = workers[index]
                lie(&liar, out: &out)
                workers[index] = liar
                for message in out { post(message, from: index) }
            }
        }
        try checkOverlap()
    }

    /// The liar's tick, now and then: it claims up to two attempts dispatched to other workers (their ids are
    /// easy to guess), reports them succeeded with outputs it forged (real blobs in the store, so
    /// only ownership can stop them) or failed, and now and then says hello under another worker's
    /// name, naming them.
    func lie(_ worker: inout SimulatedWorker, out: inout [Message]) {
        // Not every tick: each lie costs the schedule messages, and a few per schedule find the holes.
        guard random.chance(0.3) else { return }
        let targets = dispatchedTo.filter { $0.value != worker.name }.keys.sorted()
        guard !targets.isEmpty else { return }
        worker.claims = Array(Set((0..<2).map { _ in targets.randomElement(using: &random)! })).sorted()
        for id in worker.claims {
            lies += 1
            if random.chance(0.7), let digest = forgedOutputs[id] ?? (try? storeOutput("forged for \(id)")) {
                forgedOutputs[id] = digest
                forged.insert(digest)
                out.append(worker.message(.attemptFinished(AttemptFinished(attemptID: id, outcome: .succeeded, exitCode: 0, outputs: ["out": digest], startedAt: now - 10, endedAt: now))))
            } else {
                out.append(worker.message(.attemptFinished(AttemptFinished(attemptID: id, outcome: .failed, exitCode: 1, startedAt: now - 10, endedAt: now, message: "exit code 1"))))
            }
        }
        if random.chance(0.1), let victim = workers.first(where: { !$0.lies }) {
            let capabilities = WorkerCapabilities(cores: 2, memoryBytes: 1 << 30, slots: 2, labels: [], hostname: victim.name)
            out.append(worker.message(.hello(Hello(workerName: victim.name, capabilities: capabilities, runningAttempts: worker.claims))))
        }
    }

    // MARK: Faults

    var nextFaultAt: Int64 = 0
    /// Killed workers and when they come back.
    var restartLater: [(due: Int64, index: Int)] = []

    func injectFaults() async throws {
        restartKilledWorkers()
        if nextFaultAt == 0 { nextFaultAt = start + Int64.random(in: 500...6000, using: &random) }
        guard now >= nextFaultAt else { return }
        nextFaultAt = now + Int64.random(in: 2000...9000, using: &random)
        let pick = Int.random(in: 0..<5, using: &random)
        let index = Int.random(in: 0..<workers.count, using: &random)
        switch pick {
        case 0 where workers[index].alive:
            faults.append("t+\(now - start) kill -9 \(workers[index].name)")
            workers[index].alive = false
            restartLater.append((now + Int64.random(in: 500...15_000, using: &random), index))
        case 1 where workers[index].alive:
            let pause = Int64.random(in: 1000...15_000, using: &random)
            faults.append("t+\(now - start) SIGSTOP \(workers[index].name) for \(pause) ms")
            workers[index].pausedUntil = now + pause
        case 2:
            let length = Int64.random(in: 1000...15_000, using: &random)
            let oneWay = Int.random(in: 0..<3, using: &random)
            let toCoordinator = oneWay == 1 ? now : now + length
            let toWorker = oneWay == 2 ? now : now + length
            faults.append("t+\(now - start) cut \(workers[index].name) for \(length) ms (\(["both ways", "coordinator→worker", "worker→coordinator"][oneWay]))")
            cutUntil[workers[index].name] = (toCoordinator, toWorker)
        case 3 where service != nil:
            faults.append("t+\(now - start) kill -9 coordinator")
            service = nil
            _ = transport.takeSent()
            // What it had handed to its socket in the last moments may never have left.
            flights.removeAll { flight in
                if case .coordinator = flight.destination { return true }
                return now - flight.sentAt < 50 && random.chance(0.5)
            }
            coordinatorDownUntil = now + Int64.random(in: 200...4000, using: &random)
        case 4 where workers[index].alive && !workers[index].isPaused(at: now) && random.chance(0.5):
            // SIGTERM (now and then a second one): the worker drains, then leaves and is started again.
            let again = workers[index].core.draining != nil
            faults.append("t+\(now - start) SIGTERM \(workers[index].name)\(again ? " again" : "")")
            apply(workers[index].core.on(.drainRequested(reason: "SIGTERM", announce: true, moment)), worker: index)
        default:
            break
        }
    }

    func restartKilledWorkers() {
        let due = restartLater.filter { $0.due <= now }
        restartLater.removeAll { $0.due <= now }
        for (_, index) in due { restartWorker(index) }
    }

    /// A killed, refused or drained worker's process starts again (its supervisor's doing).
    func restartWorker(_ index: Int) {
        workers[index].restart(now: now)
        apply(workers[index].core.on(.started(moment)), worker: index)
    }

    /// Two live, running attempts of one step on workers that are not stopped: the fencing
    /// failed. (A stopped or killed worker's children may outlive it; they are never recorded.)
    /// An execution counts until the worker's core stops it: one whose lease ran out is still
    /// running unless the core fenced it, which it must do at its next tick.
    func checkOverlap() throws {
        var runningByStep: [String: [String]] = [:]
        for worker in workers where worker.alive && !worker.isPaused(at: now) {
            for (id, execution) in worker.executions where !execution.stopped || worker.core.leases.isCurrent(id, now: now) {
                runningByStep[execution.dispatch.step, default: []].append(id)
            }
        }
        for (step, ids) in runningByStep where ids.count > 1 {
            violations.append("t+\(now - start): step \(step) runs twice at once: \(ids.sorted())")
        }
    }

    func runEnded() async throws -> Bool {
        // Restarted workers that were killed during the faults come back before the end.
        let due = restartLater
        restartLater.removeAll()
        for (_, index) in due { restartWorker(index) }
        guard let service else { return false }
        return try await service.store.run(id: runID)?.status.isFinal == true
    }

    // MARK: Final checks

    func checkFinal() async throws {
        // The recorded state must survive one more restart as it is.
        self.service = nil
        let service = try await makeService()
        await service.restore()
        let store = await service.store
        guard let run = try store.run(id: runID) else {
            violations.append("the run is not recorded")
            return
        }
        if !run.status.isFinal {
            violations.append("the run did not end: \(run.status.rawValue) (\(try store.steps(runID: runID).map { "\($0.name)=\($0.status.rawValue)" }.joined(separator: " ")))")
        }
        let events = try store.events(runID: runID)
        for step in try store.steps(runID: runID) {
            let attempts = try store.attempts(runID: runID, step: step.name)
            let succeeded = attempts.filter { $0.status == AttemptOutcome.succeeded.rawValue }
            if succeeded.count > 1 {
                violations.append("step \(step.name) has \(succeeded.count) committed attempts: \(succeeded.map(\.id))")
            }
            let completions = events.filter { $0.step == step.name && $0.kind == "completed" }.count
            if completions > 1 { violations.append("step \(step.name) recorded its outputs \(completions) times") }
            if let sweep = plan.steps.first(where: { $0.name == step.name })?.sweep {
                // A sweep step has no attempt of its own: its outputs are those of a completed trial.
                if !attempts.isEmpty { violations.append("sweep step \(step.name) was dispatched: \(attempts.map(\.id))") }
                guard step.status == .completed else { continue }
                let outputs = step.outputsJSON.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
                var trialOutputs: [[String: String]] = []
                for trial in sweep.trials {
                    guard let record = try store.step(runID: runID, name: trial.step), record.status == .completed else { continue }
                    trialOutputs.append(record.outputsJSON.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:])
                }
                if !trialOutputs.contains(outputs) {
                    violations.append("sweep step \(step.name) records outputs \(outputs) that no completed trial produced")
                }
                continue
            }
            if step.status == .completed {
                guard let winner = succeeded.first else {
                    violations.append("step \(step.name) is completed without a committed attempt")
                    continue
                }
                let outputs = step.outputsJSON.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
                if outputs != produced[winner.id] {
                    violations.append("step \(step.name) records outputs \(outputs) but its committed attempt \(winner.id) produced \(produced[winner.id] ?? [:])")
                }
            } else if !succeeded.isEmpty {
                violations.append("step \(step.name) is \(step.status.rawValue) but attempt \(succeeded[0].id) is committed")
            }
        }
        // No output is recorded for an attempt except from the key it was dispatched to.
        for step in try store.steps(runID: runID) {
            let outputs = step.outputsJSON.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
            if let digest = outputs.values.first(where: forged.contains) {
                violations.append("step \(step.name) records the forged output \(digest)")
            }
        }
        let keys = Dictionary(uniqueKeysWithValues: workers.map { ($0.name, $0.key) })
        for attempt in try store.attempts(runID: runID) where attempt.status == AttemptOutcome.succeeded.rawValue {
            let owner = dispatchedTo[attempt.id].flatMap { keys[$0] }
            if attempt.workerIdentity != owner.map({ "key:" + $0 }) {
                violations.append("attempt \(attempt.id), dispatched to \(dispatchedTo[attempt.id] ?? "nobody"), is recorded for \(attempt.workerIdentity ?? "no identity")")
            }
        }
        for (attempt, outputs) in acknowledged.sorted(by: { $0.key < $1.key }) {
            let record = try store.attempt(id: attempt)
            if record?.status != AttemptOutcome.succeeded.rawValue {
                violations.append("acknowledged attempt \(attempt) is recorded as \(record?.status ?? "missing")")
            }
            if produced[attempt] != outputs { violations.append("acknowledged attempt \(attempt) has outputs that were never produced") }
        }
    }

    var summary: String {
        "seed \(seed): \(plan?.steps.count ?? 0) steps, \(workers.count) workers (\(workers.filter(\.lies).count) lying, \(lies) lies), \(restarts) coordinator restarts, faults: \(faults.isEmpty ? "none" : faults.joined(separator: "; "))"
    }
}
