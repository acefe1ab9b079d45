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

    /// A coordinator and its worker for one data directory, connected over `inproc://`; the caller
    /// runs both (as services of one group) and shuts `loop` down after them.
    struct Pair {
        let loop: ZMQLoop
        let coordinator: CoordinatorService
        let worker: WorkerService
    }

    /// Makes the pair. The worker hands back what it runs at once when asked to stop (a drain of
    /// zero seconds): the coordinator runs those steps again when the service is back.
    static func pair(dataDirectory: String, slots: Int, datastores: [String: String] = [:], logger: Logger) async throws -> Pair {
        let loop = try ZMQLoop()
        // In-process only: nothing outside this process can reach an inproc endpoint (and libzmq runs no
        // security handshake over inproc), so the pair talks plain text by design.
        let endpoint = "inproc://conduit-embedded"
        do {
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
                configuration: WorkerConfiguration(
                    name: "local", slots: slots, workDirectory: dataDirectory + "/worker", drainTimeout: .zero, resources: resources),
                transport: workerTransport, logger: logger
            )
            return Pair(loop: loop, coordinator: coordinator, worker: worker)
        } catch {
            loop.shutdown()
            throw error
        }
    }
}
