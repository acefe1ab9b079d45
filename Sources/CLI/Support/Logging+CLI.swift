import ArgumentParser
import Foundation
import Logging

/// How the daemons write their logs (`--log-format`).
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// swift-log's text lines (the default).
    case text
    /// One JSON object per line: time, level, label, message, metadata (see ``JSONLogHandler``).
    case json
}

/// Sets up swift-log once per process: standard error, level from the option or `CONDUIT_LOG_LEVEL`.
enum LoggingSetup {
    static func bootstrap(level: String?, defaultLevel: Logger.Level, format: LogFormat = .text) {
        let chosen = (level ?? ProcessInfo.processInfo.environment["CONDUIT_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                // Through `StandardError`, so that a terminal redrawing progress shows log lines above it.
                var handler = StreamLogHandler(label: label, stream: StandardError())
                handler.logLevel = chosen
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = chosen
                return handler
            }
        }
    }
}
