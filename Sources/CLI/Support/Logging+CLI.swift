import Foundation
import Logging

/// Sets up swift-log once per process: standard error, level from the option or `CONDUIT_LOG_LEVEL`.
enum LoggingSetup {
    static func bootstrap(level: String?, defaultLevel: Logger.Level) {
        let chosen = (level ?? ProcessInfo.processInfo.environment["CONDUIT_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler(label: label, stream: StandardError())
            handler.logLevel = chosen
            return handler
        }
    }
}
