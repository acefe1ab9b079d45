/// Turns messages into ZeroMQ frames and back: `[header, body]` or `[header, body, bulk]`.
///
/// The header is binary (`HeaderCodec`), the body a compact binary layout per message (`WireBody`),
/// and bulk bytes travel untouched in their own frame. Decoding never traps: anything malformed becomes a `ProtocolError`.
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
        let payload: Payload
        if envelope.code == .hello && envelope.version != ProtocolVersion.current {
            // Body layouts may change between versions; the header's never does. A hello from
            // another version is decoded from its header alone, so it can be refused with a reason.
            payload = .hello(Hello(
                protocolVersion: envelope.version, workerName: envelope.senderID,
                capabilities: WorkerCapabilities(cores: 0, memoryBytes: 0, slots: 0, labels: [], hostname: "")
            ))
        } else {
            payload = try decodeBody(code: envelope.code, frames[1])
        }
        if payload.hasBulk != (frames.count == 3) {
            throw ProtocolError(.badFrames, "\(envelope.code) expects \(payload.hasBulk ? 3 : 2) frames, got \(frames.count)")
        }
        return Message(envelope: envelope, payload: payload, bulk: frames.count == 3 ? frames[2] : [])
    }

    private static func encodeBody(_ payload: Payload) -> [UInt8] {
        var writer = WireWriter()
        switch payload {
        case .hello(let value): value.write(to: &writer)
        case .welcome(let value): value.write(to: &writer)
        case .refuse(let value): value.write(to: &writer)
        case .heartbeat(let value): value.write(to: &writer)
        case .drain(let value): value.write(to: &writer)
        case .dispatch(let value): value.write(to: &writer)
        case .cancel(let value): value.write(to: &writer)
        case .attemptStarted(let value): value.write(to: &writer)
        case .attemptFinished(let value): value.write(to: &writer)
        case .attemptAcknowledged(let value): value.write(to: &writer)
        case .logChunk(let value): value.write(to: &writer)
        case .metrics(let value): value.write(to: &writer)
        case .fetchRequest(let value): value.write(to: &writer)
        case .fetchChunk(let value): value.write(to: &writer)
        case .fetchFailed(let value): value.write(to: &writer)
        case .uploadBegin(let value): value.write(to: &writer)
        case .uploadCredit(let value): value.write(to: &writer)
        case .uploadChunk(let value): value.write(to: &writer)
        case .uploadStored(let value): value.write(to: &writer)
        }
        return writer.bytes
    }

    private static func decodeBody(code: MessageCode, _ bytes: [UInt8]) throws(ProtocolError) -> Payload {
        var reader = WireReader(bytes, context: code.description)
        func body<T: WireBody>(_: T.Type) throws(ProtocolError) -> T {
            let value = try T(from: &reader)
            try reader.finish()
            return value
        }
        switch code {
        case .hello: return .hello(try body(Hello.self))
        case .welcome: return .welcome(try body(Welcome.self))
        case .refuse: return .refuse(try body(Refuse.self))
        case .heartbeat: return .heartbeat(try body(Heartbeat.self))
        case .drain: return .drain(try body(Drain.self))
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
