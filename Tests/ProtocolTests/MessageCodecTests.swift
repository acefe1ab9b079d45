import Protocol
import Testing

/// One message of every kind, with representative values.
let sampleMessages: [Message] = {
    let payloads: [Payload] = [
        .hello(Hello(workerName: "gpu-1", capabilities: WorkerCapabilities(cores: 8, memoryBytes: 1 << 34, slots: 2, labels: ["gpu"], hostname: "h"), runningAttempts: ["a-1"])),
        .welcome(Welcome(workerID: "gpu-1", heartbeatIntervalMilliseconds: 1000)),
        .refuse(Refuse(reason: "protocol version 9 is not supported")),
        .heartbeat(Heartbeat(runningAttempts: ["a", "b"])),
        .drain(Drain(reason: "the worker got SIGTERM")),
        .dispatch(Dispatch(
            attemptID: "run-1-0-1", runID: "run-1", step: "fast/train",
            command: [.text("python train.py --lr "), .value("0.1"), .text(" --data "), .inputPath("train_data"), .text(" --out "), .outputPath("model")],
            environment: ["K": "V"], code: String(repeating: "a", count: 64),
            inputs: [DispatchInput(name: "train_data", kind: .folder, artifact: String(repeating: "b", count: 64)), DispatchInput(name: "u", kind: .file, uri: "https://example.org/x.csv")],
            outputs: [DispatchOutput(name: "model", kind: .folder), DispatchOutput(name: "artifacts", kind: .folder, isDefaultArtifacts: true)], timeoutSeconds: 30,
            environmentSetup: DispatchEnvironment(
                label: "azureml:sklearn-env:1", kind: .virtualEnvironment, python: "3.11",
                requirements: ["scikit-learn==1.5.0", "pandas"], digest: String(repeating: "c", count: 64)
            )
        )),
        .cancel(Cancel(attemptID: "x", reason: "canceled by the user")),
        .attemptStarted(AttemptStarted(attemptID: "x")),
        .attemptFinished(AttemptFinished(attemptID: "x", outcome: .timedOut, exitCode: nil, signal: 9, outputs: ["m": "d"], startedAt: 1, endedAt: 2, message: "timed out")),
        .attemptAcknowledged(AttemptAcknowledged(attemptID: "x", accepted: false, reason: "stale")),
        .logChunk(LogChunk(attemptID: "x", stream: .stderr, sequence: 7)),
        .metrics(Metrics(attemptID: "x", values: ["accuracy": 0.91, "loss": 0.25])),
        .metrics(Metrics(
            attemptID: "x", values: ["loss": 0.25], firstPoint: 7,
            points: [MetricPoint(key: "loss", value: 0.5, step: 3, timestamp: 1_700_000_000_000, run: "abc"), MetricPoint(key: "f1", value: -1, step: -2, timestamp: 0)],
            params: [TrackedValue(key: "lr", value: "0.01", run: "abc")], tags: [TrackedValue(key: "team", value: "vision")]
        )),
        .fetchRequest(FetchRequest(blob: "d", offset: 1024, credit: 8)),
        .fetchChunk(FetchChunk(blob: "d", offset: 0, size: 3, checksum: 0xCBF4_3926)),
        .fetchFailed(FetchFailed(blob: "d", reason: "missing")),
        .uploadBegin(UploadBegin(attemptID: "x", blob: "d", size: 99)),
        .uploadCredit(UploadCredit(blob: "d", offset: 10, credit: 4, rewind: true)),
        .uploadChunk(UploadChunk(attemptID: "x", blob: "d", offset: 10, checksum: 7)),
        .uploadStored(UploadStored(blob: "d", ok: true)),
    ]
    return payloads.enumerated().map { index, payload in
        Message(
            envelope: Envelope(code: payload.code, messageID: UInt64(index + 1), causeID: UInt64(index), senderID: "sender-\(index)"),
            payload: payload, bulk: payload.hasBulk ? [0, 1, 2, 255] : []
        )
    }
}()

@Suite struct MessageCodecTests {
    @Test func everyCodeHasASample() {
        #expect(Set(sampleMessages.map(\.payload.code)) == Set(MessageCode.all))
    }

    @Test(arguments: sampleMessages)
    func roundTrip(_ message: Message) throws {
        let frames = MessageCodec.encode(message)
        #expect(frames.count == (message.payload.hasBulk ? 3 : 2))
        let decoded = try MessageCodec.decode(frames)
        #expect(decoded == message)
    }

    @Test(arguments: sampleMessages)
    func everyTruncationOfTheHeaderIsAnErrorNotACrash(_ message: Message) {
        var frames = MessageCodec.encode(message)
        let header = frames[0]
        for length in 0..<header.count {
            frames[0] = Array(header.prefix(length))
            #expect(throws: ProtocolError.self) { try MessageCodec.decode(frames) }
        }
    }

    @Test(arguments: sampleMessages)
    func everyTruncationOfTheBodyIsRejected(_ message: Message) {
        var frames = MessageCodec.encode(message)
        let body = frames[1]
        for length in stride(from: 0, to: body.count, by: max(1, body.count / 40)) {
            frames[1] = Array(body.prefix(length))
            #expect(throws: ProtocolError.self) { try MessageCodec.decode(frames) }
        }
    }

    @Test func headerDecodesWhenFedByteAtATime() throws {
        let envelope = Envelope(code: .dispatch, messageID: 42, causeID: 41, senderID: "coordinator")
        let bytes = HeaderCodec.encode(envelope)
        var buffer: [UInt8] = []
        var decoded: Envelope?
        for byte in bytes {
            buffer.append(byte)
            do {
                let (value, used) = try HeaderCodec.decode(buffer)
                decoded = value
                #expect(used == buffer.count)
            } catch {
                #expect(error.code == .truncated)
            }
        }
        #expect(decoded == envelope)
    }

    @Test func unknownCodeIsReportedAsSuch() {
        var frames = MessageCodec.encode(sampleMessages[3])
        frames[0][4] = 0x7F
        frames[0][5] = 0x7F
        #expect { try MessageCodec.decode(frames) } throws: { ($0 as? ProtocolError)?.code == .unknownCode }
    }

    @Test func badMagicWrongFrameCountsAndGarbageAreRejected() {
        var frames = MessageCodec.encode(sampleMessages[0])
        frames[0][0] = 0
        #expect { try MessageCodec.decode(frames) } throws: { ($0 as? ProtocolError)?.code == .badMagic }
        #expect(throws: ProtocolError.self) { try MessageCodec.decode([]) }
        #expect(throws: ProtocolError.self) { try MessageCodec.decode([[1], [2], [3], [4]]) }
        let log = MessageCodec.encode(sampleMessages.first { $0.payload.code == .logChunk }!)
        #expect { try MessageCodec.decode(Array(log.prefix(2))) } throws: { ($0 as? ProtocolError)?.code == .badFrames }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let count = Int.random(in: 0...64, using: &generator)
            let garbage = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var frames = MessageCodec.encode(sampleMessages[4])
            frames[Int.random(in: 0...1, using: &generator)] = garbage
            _ = try? MessageCodec.decode(frames)
        }
    }

    @Test func bodyWithTheWrongShapeIsBadBody() {
        var frames = MessageCodec.encode(sampleMessages[0])
        frames[1] = Array(#"{"workerName": 5}"#.utf8)
        #expect { try MessageCodec.decode(frames) } throws: { ($0 as? ProtocolError)?.code == .badBody }
    }

    @Test(arguments: sampleMessages)
    func trailingBytesAfterABodyAreRejected(_ message: Message) {
        var frames = MessageCodec.encode(message)
        frames[1].append(0)
        #expect { try MessageCodec.decode(frames) } throws: { ($0 as? ProtocolError)?.code == .badBody }
    }

    @Test func hostileCountsAndInvalidTextAreRejectedWithoutAllocating() {
        var heartbeat = WireWriter()
        heartbeat.unsigned(UInt64.max >> 1)  // "this many attempt ids", with no bytes behind it
        let frames = [HeaderCodec.encode(Envelope(code: .heartbeat, messageID: 1, senderID: "w")), heartbeat.bytes]
        #expect { try MessageCodec.decode(frames) } throws: { ($0 as? ProtocolError)?.message.contains("exceeds") == true }

        var started = WireWriter()
        started.unsigned(2)
        started.byte(0xC3)
        started.byte(0x28)  // not UTF-8
        let invalid = [HeaderCodec.encode(Envelope(code: .attemptStarted, messageID: 1, senderID: "w")), started.bytes]
        #expect { try MessageCodec.decode(invalid) } throws: { ($0 as? ProtocolError)?.message.contains("UTF-8") == true }

        let overlong = [UInt8](repeating: 0xFF, count: 11)
        var reader = WireReader(overlong, context: "test")
        #expect(throws: ProtocolError.self) { try reader.unsigned() }
    }

    @Test func aMapWithARepeatedKeyIsRejected() {
        var body = WireWriter()
        body.string("x")
        body.unsigned(2)
        for _ in 0..<2 {
            body.string("loss")
            body.double(1)
        }
        let frames = [HeaderCodec.encode(Envelope(code: .metrics, messageID: 1, senderID: "w")), body.bytes]
        #expect { try MessageCodec.decode(frames) } throws: { ($0 as? ProtocolError)?.message.contains("duplicate key") == true }
    }

    @Test func integersKeepTheirFullRange() throws {
        for value: Int64 in [0, 1, -1, 63, -64, 64, 300, -300, .max, .min] {
            var writer = WireWriter()
            writer.signed(value)
            var reader = WireReader(writer.bytes, context: "test")
            #expect(try reader.signed() == value)
            #expect(reader.isAtEnd)
        }
        var writer = WireWriter()
        writer.unsigned(.max)
        var reader = WireReader(writer.bytes, context: "test")
        #expect(try reader.unsigned() == .max)
    }

    @Test func aHelloFromAnotherVersionIsReadFromItsHeaderAlone() throws {
        let header = HeaderCodec.encode(Envelope(version: 1, code: .hello, messageID: 1, senderID: "old-worker"))
        let decoded = try MessageCodec.decode([header, Array(#"{"protocolVersion":1}"#.utf8)])
        guard case .hello(let hello) = decoded.payload else { Issue.record("not a hello"); return }
        #expect(hello.protocolVersion == 1)
        #expect(hello.workerName == "old-worker")
    }

    @Test func nonFiniteMetricsSurviveTheWire() throws {
        let message = Message(
            envelope: Envelope(code: .metrics, messageID: 1, senderID: "w"),
            payload: .metrics(Metrics(attemptID: "a", values: ["inf": .infinity]))
        )
        let decoded = try MessageCodec.decode(MessageCodec.encode(message))
        guard case .metrics(let metrics) = decoded.payload else { Issue.record("not metrics"); return }
        #expect(metrics.values["inf"] == .infinity)
    }
}
