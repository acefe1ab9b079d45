// Placement benchmark: the pure scheduler core placing 100,000 ready steps onto 1,000 simulated
// workers, with a slot-only run of the same size as the baseline, measured in the same process.
//
//   swift run -c release placement-bench          # or: make bench-placement
//   PLACEMENT_STEPS=100000 PLACEMENT_WORKERS=1000 PLACEMENT_REPS=3 PLACEMENT_ONLY=arrive|resume|join
//
// Scenarios (each timed from the first event to the last action):
// - "arrive": the workers are connected; steps are queued one by one, as a run's ready steps
//   are (each enqueue places at once when it can);
// - "resume": 100,000 steps are queued while dispatching is paused, then it resumes: one pass;
// - "join": 100,000 steps are queued with no worker, then the workers connect one by one.
// Workers: 900 CPU workers (128 cores, 512 GiB, 30 % labelled highmem) and 100 GPU workers (96
// cores, 8 GPUs of 40 or 80 GiB). The mixed steps: 80 % one core, 8 % 4 cores and 16 GiB, 4 %
// highmem with 64 GiB, 7 % 2 cores, 0.5 % with 1 or 2 GPUs (half with gpu_memory 60 GiB); a third read an input
// held by some worker. Total capacity exceeds 100,000 steps, so every step is placed.
import Coordinator
import Foundation

let steps = Int(ProcessInfo.processInfo.environment["PLACEMENT_STEPS"] ?? "") ?? 100_000
let workerCount = Int(ProcessInfo.processInfo.environment["PLACEMENT_WORKERS"] ?? "") ?? 1_000
let reps = Int(ProcessInfo.processInfo.environment["PLACEMENT_REPS"] ?? "") ?? 3

struct Generator {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
}

func inventory(mixed: Bool) -> [(String, WorkerCapacity)] {
    var random = Generator(state: 7)
    return (0..<workerCount).map { index in
        let id = "w\(index)"
        guard mixed else { return (id, WorkerCapacity(slots: 128, cores: 128)) }
        if index % 10 == 9 {
            let gpus = (0..<8).map { WorkerCapacity.GPU(index: $0, memoryBytes: (random.next(2) == 0 ? 40 : 80) << 30) }
            return (id, WorkerCapacity(labels: [], slots: 96, cores: 96, memoryBytes: 1024 << 30, gpus: gpus))
        }
        let labels: Set<String> = random.next(10) < 3 ? ["highmem"] : []
        return (id, WorkerCapacity(labels: labels, slots: 128, cores: 128, memoryBytes: 512 << 30))
    }
}

func workload(mixed: Bool) -> [Scheduler.Pending] {
    var random = Generator(state: 11)
    return (0..<steps).map { index in
        let id = "a\(index)"
        guard mixed else { return Scheduler.Pending(attemptID: id) }
        var need = Requirement()
        switch random.next(100) {
        case 99 where random.next(2) == 0: break
        case 0..<80: break
        case 80..<88: need = Requirement(cpuMillicores: 4000, memoryBytes: 16 << 30)
        case 88..<92: need = Requirement(label: "highmem", memoryBytes: 64 << 30)
        case 92..<99: need = Requirement(cpuMillicores: 2000)
        default: need = Requirement(gpus: 1 + random.next(2), gpuMemoryBytes: random.next(2) == 0 ? 0 : 60 << 30)
        }
        let inputs = random.next(3) == 0 ? [Scheduler.Input(artifact: "art\(random.next(5000))", bytes: Int64(1 + random.next(1 << 30)))] : []
        return Scheduler.Pending(attemptID: id, need: need, inputs: inputs)
    }
}

/// Holdings for locality: each of 5,000 artifacts on one worker.
func holdings() -> [Scheduler.Event] {
    (0..<5000).map { .holds(workerID: "w\(($0 * 7) % workerCount)", artifacts: ["art\($0)"]) }
}

enum Scenario: String, CaseIterable { case arrive, resume, join }

func run(_ scenario: Scenario, mixed: Bool) -> (seconds: Double, placed: Int) {
    let workers = inventory(mixed: mixed)
    let pending = workload(mixed: mixed)
    var scheduler = Scheduler()
    var placed = 0
    func count(_ actions: [Scheduler.Action]) {
        for action in actions { if case .dispatch = action { placed += 1 } }
    }
    let clock = ContinuousClock()
    var elapsed = Duration.zero
    switch scenario {
    case .arrive:
        for (id, capacity) in workers { _ = scheduler.on(.workerJoined(id: id, capacity: capacity)) }
        for event in holdings() { _ = scheduler.on(event) }
        elapsed = clock.measure {
            for step in pending { count(scheduler.on(.enqueue(step))) }
        }
    case .resume:
        for (id, capacity) in workers { _ = scheduler.on(.workerJoined(id: id, capacity: capacity)) }
        for event in holdings() { _ = scheduler.on(event) }
        _ = scheduler.on(.pause(true))
        for step in pending { _ = scheduler.on(.enqueue(step)) }
        elapsed = clock.measure { count(scheduler.on(.pause(false))) }
    case .join:
        for step in pending { _ = scheduler.on(.enqueue(step)) }
        elapsed = clock.measure {
            for (id, capacity) in workers { count(scheduler.on(.workerJoined(id: id, capacity: capacity))) }
        }
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (seconds, placed)
}

print("placement: \(steps) ready steps onto \(workerCount) workers, best of \(reps) (target: mixed ≤ 1 s)")
print("| scenario | slot-only steps s (baseline) | mixed steps s | ratio | placed (mixed) | target |")
print("|---|---|---|---|---|---|")
var worst = 0.0
let only = ProcessInfo.processInfo.environment["PLACEMENT_ONLY"].flatMap(Scenario.init(rawValue:))
for scenario in Scenario.allCases where only == nil || only == scenario {
    var base = Double.infinity
    var mixed = Double.infinity
    var placed = 0
    for _ in 0..<reps {
        base = min(base, run(scenario, mixed: false).seconds)
        let result = run(scenario, mixed: true)
        mixed = min(mixed, result.seconds)
        placed = result.placed
    }
    worst = max(worst, mixed)
    let ratio = base > 0 ? mixed / base : 0
    print(String(format: "| %@ | %.3f | %.3f | %.2f× | %d | %@ |", scenario.rawValue, base, mixed, ratio, placed, mixed <= 1 ? "met" : "MISSED"))
}
exit(worst <= 1 ? 0 : 1)
