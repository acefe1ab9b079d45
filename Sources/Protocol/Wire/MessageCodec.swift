import Foundation

/// Turns messages into ZeroMQ frames and back: `[header, body]` or `[header, body, bulk]`.
///
/// The header is binary (`HeaderCodec`), the body JSON, and bulk bytes travel untouched in their
/// own frame. Decoding never traps: anything malformed becomes a `ProtocolError`.
public enum MessageCodec {
    /// The largest body accepted; bodies are small control messages.
    public static let maximumBodyBytes = 4 << 20

    /// Frames for `message`, with the envelope's code taken from the payload.
    public static func encode(_ message: Message) -> [[UInt8]] {
        var envelope = message.envelope
        envelope.code = message.payload.code
        let header = HeaderCodec.encode(envelope)
        let body = encodeBody(message.payload)
        return message.payload.hasBulk ? [header, body, message.bulk] : [header, body]
    }

    /// Decodes frames produced by `encode`. Checks the version only for `hello`; the receiver
    /// decides what to do with other versions.
    public static func decode(_ frames: [[UInt8]]) throws(ProtocolError) -> Message {
        guard frames.count == 2 || frames.count == 3 else {
            throw ProtocolError(.badFrames, "expected 2 or 3 frames, got \(frames.count)")
        }
        let (envelope, used) = try HeaderCodec.decode(frames[0])
        guard used == frames[0].count else {
            throw ProtocolError(.badFrames, "header frame has \(frames[0].count - used) trailing bytes")
        }
        guard MessageCode.all.contains(envelope.code) else {
            throw ProtocolError(.unknownCode, "unknown message code \(envelope.code.rawValue)")
        }
        guard frames[1].count <= maximumBodyBytes else {
            throw ProtocolError(.tooLarge, "body of \(frames[1].count) bytes exceeds \(maximumBodyBytes)")
        }
        let payload = try decodeBody(code: envelope.code, frames[1])
        if payload.hasBulk != (frames.count == 3) {
            throw ProtocolError(.badFrames, "\(envelope.code) expects \(payload.hasBulk ? 3 : 2) frames, got \(frames.count)")
        }
        return Message(envelope: envelope, payload: payload, bulk: frames.count == 3 ? frames[2] : [])
    }

    /// Shared coders: configured once, only read afterwards (encoding and decoding keep their
    /// state per call).
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }()

    private static func encodeBody(_ payload: Payload) -> [UInt8] {
        let data: Data
        do {
            switch payload {
            case .hello(let value): data = try encoder.encode(value)
            case .welcome(let value): data = try encoder.encode(value)
            case .refuse(let value): data = try encoder.encode(value)
            case .heartbeat(let value): data = try encoder.encode(value)
            case .dispatch(let value): data = try encoder.encode(value)
            case .cancel(let value): data = try encoder.encode(value)
            case .attemptStarted(let value): data = try encoder.encode(value)
            case .attemptFinished(let value): data = try encoder.encode(value)
            case .attemptAcknowledged(let value): data = try encoder.encode(value)
            case .logChunk(let value): data = try encoder.encode(value)
            case .metrics(let value): data = try encoder.encode(value)
            case .fetchRequest(let value): data = try encoder.encode(value)
            case .fetchChunk(let value): data = try encoder.encode(value)
            case .fetchFailed(let value): data = try encoder.encode(value)
            case .uploadBegin(let value): data = try encoder.encode(value)
            case .uploadCredit(let value): data = try encoder.encode(value)
            case .uploadChunk(let value): data = try encoder.encode(value)
            case .uploadStored(let value): data = try encoder.encode(value)
            }
        } catch {
            // Every payload is plain strings, integers and doubles (non-finite ones become strings).
            preconditionFailure("encoding \(payload.code) failed: \(error)")
        }
        return Array(data)
    }

    private static func decodeBody(code: MessageCode, _ bytes: [UInt8]) throws(ProtocolError) -> Payload {
        let data = Data(bytes)
        func body<T: Decodable>(_ type: T.Type) throws(ProtocolError) -> T {
            do {
                return try decoder.decode(type, from: data)
            } catch {
                throw ProtocolError(.badBody, "\(code) body does not decode: \(error)")
            }
        }
        switch code {
        case .hello: return .hello(try body(Hello.self))
        case .welcome: return .welcome(try body(Welcome.self))
        case .refuse: return .refuse(try body(Refuse.self))
        case .heartbeat: return .heartbeat(try body(Heartbeat.self))
        case .dispatch: return .dispatch(try body(Dispatch.self))
        case .cancel: return .cancel(try body(Cancel.self))
        case .attemptStarted: return .attemptStarted(try body(AttemptStarted.self))
        case .attemptFinished: return .attemptFinished(try body(AttemptFinished.self))
        case .attemptAcknowledged: return .attemptAcknowledged(try body(AttemptAcknowledged.self))
        case .logChunk: return .logChunk(try body(LogChunk.self))
        case .metrics: return .metrics(try body(Metrics.self))
        case .fetchRequest: return .fetchRequest(try body(FetchRequest.self))
        case .fetchChunk: return .fetchChunk(try body(FetchChunk.self))
        case .fetchFailed: return .fetchFailed(try body(FetchFailed.self))
        case .uploadBegin: return .uploadBegin(try body(UploadBegin.self))
        case .uploadCredit: return .uploadCredit(try body(UploadCredit.self))
        case .uploadChunk: return .uploadChunk(try body(UploadChunk.self))
        case .uploadStored: return .uploadStored(try body(UploadStored.self))
        default: throw ProtocolError(.unknownCode, "unknown message code \(code.rawValue)")
        }
    }
}
