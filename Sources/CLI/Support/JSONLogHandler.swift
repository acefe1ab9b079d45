import Foundation
import Logging
import Spec

/// A swift-log handler that writes one JSON object per line to standard error (`--log-format json`):
/// `{"time":"2026-12-07T19:36:28.123Z","level":"info","label":"conduit.coordinator","message":"...","metadata":{...}}`.
///
/// `time` is UTC with milliseconds; `metadata` merges the logger's, the provider's and the line's
/// (the line's win), and is always present (`{}` when empty). Each line is one `write(2)`, so lines
/// from several threads do not interleave.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    /// Where lines go; standard error by default.
    let write: @Sendable (String) -> Void

    init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        write(Self.line(time: Date(), level: event.level, label: label, message: event.message.description, metadata: merged))
    }

    /// The JSON line (with its newline) for one log event.
    static func line(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var text = "{\"time\":" + quote(timestamp(time))
        text += ",\"level\":" + quote(level.rawValue)
        text += ",\"label\":" + quote(label)
        text += ",\"message\":" + quote(message)
        text += ",\"metadata\":" + json(.dictionary(metadata)) + "}\n"
        return text
    }

    /// A metadata value as JSON: strings and string-convertibles as strings, dictionaries as objects
    /// (keys sorted), arrays as arrays.
    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): quote(string)
        case .stringConvertible(let convertible): quote(convertible.description)
        case .dictionary(let dictionary):
            "{" + dictionary.keys.sorted().map { quote($0) + ":" + json(dictionary[$0]!) }.joined(separator: ",") + "}"
        case .array(let array): "[" + array.map(json).joined(separator: ",") + "]"
        }
    }

    /// `text` as a JSON string (the escaping of `CanonicalJSON`).
    static func quote(_ text: String) -> String {
        CanonicalJSON.quote(text)
    }

    /// `2026-12-07T19:36:28.123Z`.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let fraction = pad(Int32(milliseconds % 1000), 3)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(fraction)Z"
    }

    /// Writes `line` to standard error in one call.
    static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }
}
