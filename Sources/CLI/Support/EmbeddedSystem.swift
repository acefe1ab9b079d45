import Coordinator
import Foundation
import Logging
import Transport
import Worker
import ZeroMQ

/// A coordinator and one local worker in this process, talking ZeroMQ over `inproc://`: the local
/// service (`conduit service run`) is this pair behind an HTTP API on a Unix socket.
enum EmbeddedSystem {
    /// The default data directory: `$CONDUIT_HOME`, else `$HOME/.conduit` (`$HOME` as set, then the
    /// account's home directory).
    static var defaultDataDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let home = environment["CONDUIT_HOME"], !home.isEmpty { return home }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".conduit")
    }

    /// Starts both services, runs `body` with the coordinator, then stops them.
    static func serve<T: Sendable>(
        dataDirectory: String, slots: Int, datastores: [String: String] = [:], logger: Logger,
        _ body: @Sendable (CoordinatorService) async throws -> T
    ) async throws -> T {
        let loop = try ZMQLoop()
        defer { loop.shutdown() }
        // In-process only: nothing outside this process can reach an inproc endpoint (and libzmq runs no
        // security handshake over inproc), so the embedded pair talks plain text by design.
        let endpoint = "inproc://conduit-embedded"
        let coordinatorTransport = try await ZMQCoordinatorTransport(loop: loop, endpoint: endpoint)
        let coordinator: CoordinatorService
        do {
            coordinator = try CoordinatorService(
                configuration: CoordinatorConfiguration(
                    dataDirectory: dataDirectory, datastores: .standard(dataDirectory: dataDirectory, extra: datastores)
                ),
                transport: coordinatorTransport, logger: logger
            )
        } catch let error as CoordinatorError {
            throw CLIError("conduit service: \(error.message)", exitCode: ExitStatus.unavailable)
        }
        let identity = Array("local-\(UInt64.random(in: 0...UInt64.max))".utf8)
        let workerTransport = try await ZMQWorkerTransport(loop: loop, endpoint: endpoint, identity: identity)
        // This machine's cores, memory and GPUs (or those of CONDUIT_SIMULATED_GPUS).
        let resources: MachineResources
        do throws(WorkerError) {
            resources = try await CapabilityDetector.detect()
        } catch {
            throw CLIError("conduit service: \(error.message)", exitCode: ExitStatus.usage)
        }
        let worker = try WorkerService(
            configuration: WorkerConfiguration(name: "local", slots: slots, workDirectory: dataDirectory + "/worker", resources: resources),
            transport: workerTransport, logger: logger
        )
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await coordinator.run()
                return nil
            }
            group.addTask {
                try await worker.run()
                return nil
            }
            var registrations = worker.registrations.makeAsyncIterator()
            guard await registrations.next() == true else {
                throw CLIError("the embedded worker could not register", exitCode: ExitStatus.unavailable)
            }
            let result = try await body(coordinator)
            workerTransport.close()
            coordinatorTransport.close()
            group.cancelAll()
            return result
        }
    }
}
