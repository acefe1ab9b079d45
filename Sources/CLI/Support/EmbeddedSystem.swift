import Coordinator
import Foundation
import Logging
import Transport
import Worker
import ZeroMQ

/// A coordinator and one local worker in this process, talking ZeroMQ over `inproc://`.
enum EmbeddedSystem {
    /// The default data directory: `$CONDUIT_HOME`, else `~/.conduit`.
    static var defaultDataDirectory: String {
        if let home = ProcessInfo.processInfo.environment["CONDUIT_HOME"], !home.isEmpty { return home }
        return (NSHomeDirectory() as NSString).appendingPathComponent(".conduit")
    }

    /// Starts both services for the rest of this process and returns a client for the coordinator:
    /// what client commands use with `--embedded`, to read and extend the runs of `conduit run`.
    /// The process ends without stopping them (its exit closes the data directory's lock).
    static func start(dataDirectory: String, logger: Logger) async throws -> any CoordinatorClient {
        let ready = AsyncStream<Result<any CoordinatorClient, any Error>>.makeStream()
        Task.detached {
            do {
                _ = try await with(dataDirectory: dataDirectory, slots: ProcessInfo.processInfo.activeProcessorCount, logger: logger) { client in
                    ready.continuation.yield(.success(client))
                    // Keep both services (and the worker a rerun needs) until the process exits.
                    while true { try await Task.sleep(for: .seconds(3600)) }
                }
            } catch {
                ready.continuation.yield(.failure(error))
            }
        }
        for await result in ready.stream {
            return try result.get()
        }
        throw CLIError("the embedded coordinator did not start", exitCode: ExitStatus.unavailable)
    }

    /// Starts both services, runs `body` with a client for the coordinator, then stops them.
    static func with<T: Sendable>(
        dataDirectory: String, slots: Int, datastores: [String: String] = [:], logger: Logger,
        _ body: @Sendable (any CoordinatorClient) async throws -> T
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
            throw CLIError("conduit run: \(error.message)", exitCode: ExitStatus.unavailable)
        }
        let identity = Array("local-\(UInt64.random(in: 0...UInt64.max))".utf8)
        let workerTransport = try await ZMQWorkerTransport(loop: loop, endpoint: endpoint, identity: identity)
        // This machine's cores, memory and GPUs (or those of CONDUIT_SIMULATED_GPUS).
        let resources: MachineResources
        do throws(WorkerError) {
            resources = try await CapabilityDetector.detect()
        } catch {
            throw CLIError("conduit run: \(error.message)", exitCode: ExitStatus.usage)
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
            let result = try await body(LocalCoordinatorClient(service: coordinator))
            workerTransport.close()
            coordinatorTransport.close()
            group.cancelAll()
            return result
        }
    }
}
