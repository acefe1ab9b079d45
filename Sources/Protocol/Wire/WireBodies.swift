// The binary layout of every message body (see WireBody and docs/protocol.md). Each `write`
// and `init(from:)` pair lists the same fields in the same order.

extension ArtifactKind {
    fileprivate var tag: UInt8 { self == .file ? 0 : 1 }

    fileprivate init(from reader: inout WireReader) throws(ProtocolError) {
        switch try reader.byte() {
        case 0: self = .file
        case 1: self = .folder
        case let other: throw reader.fail("artifact kind \(other)")
        }
    }
}

extension CommandPiece: WireBody {
    public func write(to writer: inout WireWriter) {
        switch self {
        case .text(let value): writer.byte(0); writer.string(value)
        case .value(let value): writer.byte(1); writer.string(value)
        case .inputPath(let value): writer.byte(2); writer.string(value)
        case .outputPath(let value): writer.byte(3); writer.string(value)
        }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        let tag = try reader.byte()
        let value = try reader.string()
        switch tag {
        case 0: self = .text(value)
        case 1: self = .value(value)
        case 2: self = .inputPath(value)
        case 3: self = .outputPath(value)
        default: throw reader.fail("command piece kind \(tag)")
        }
    }
}

extension WorkerCapabilities: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.int(cores)
        writer.signed(memoryBytes)
        writer.int(slots)
        writer.strings(labels)
        writer.string(hostname)
        writer.signed(diskFreeBytes)
        writer.array(gpus) { piece, value in value.write(to: &piece) }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            cores: try reader.int(), memoryBytes: try reader.signed(), slots: try reader.int(),
            labels: try reader.strings(), hostname: try reader.string(), diskFreeBytes: try reader.signed(),
            gpus: try reader.array { (r: inout WireReader) throws(ProtocolError) in try GPUDevice(from: &r) }
        )
    }
}

extension GPUDevice: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.int(index)
        writer.string(uuid)
        writer.string(name)
        writer.signed(memoryBytes)
        writer.signed(freeMemoryBytes)
        writer.string(computeCapability)
        writer.bool(simulated)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            index: try reader.int(), uuid: try reader.string(), name: try reader.string(), memoryBytes: try reader.signed(),
            freeMemoryBytes: try reader.signed(), computeCapability: try reader.string(), simulated: try reader.bool()
        )
    }
}

extension Hello: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.unsigned(UInt64(protocolVersion))
        writer.string(workerName)
        capabilities.write(to: &writer)
        writer.strings(runningAttempts)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            protocolVersion: try reader.uint16(), workerName: try reader.string(),
            capabilities: try WorkerCapabilities(from: &reader), runningAttempts: try reader.strings()
        )
    }
}

extension Welcome: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(workerID)
        writer.int(heartbeatIntervalMilliseconds)
        writer.int(leaseMilliseconds)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(workerID: try reader.string(), heartbeatIntervalMilliseconds: try reader.int(), leaseMilliseconds: try reader.int())
    }
}

extension Refuse: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(reason)
        writer.optional(helloRequired) { $0.bool($1) }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(reason: try reader.string(), helloRequired: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.bool() })
    }
}

extension Heartbeat: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.strings(runningAttempts)
        writer.unsigned(sequence)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(runningAttempts: try reader.strings(), sequence: try reader.unsigned())
    }
}

extension Drain: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(reason)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(reason: try reader.string())
    }
}

extension DispatchInput: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(name)
        writer.byte(kind.tag)
        writer.optional(artifact) { $0.string($1) }
        writer.optional(uri) { $0.string($1) }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            name: try reader.string(), kind: try ArtifactKind(from: &reader),
            artifact: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() },
            uri: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() }
        )
    }
}

extension DispatchOutput: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(name)
        writer.byte(kind.tag)
        writer.bool(isDefaultArtifacts)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(name: try reader.string(), kind: try ArtifactKind(from: &reader), isDefaultArtifacts: try reader.bool())
    }
}

extension Dispatch: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.string(runID)
        writer.string(step)
        writer.array(command) { piece, value in value.write(to: &piece) }
        writer.map(environment) { $0.string($1) }
        writer.optional(code) { $0.string($1) }
        writer.array(inputs) { piece, value in value.write(to: &piece) }
        writer.array(outputs) { piece, value in value.write(to: &piece) }
        writer.optional(timeoutSeconds) { $0.int($1) }
        writer.unsigned(leaseSequence)
        writer.array(gpuDevices) { $0.int($1) }
        writer.optional(environmentSetup) { piece, value in value.write(to: &piece) }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            attemptID: try reader.string(), runID: try reader.string(), step: try reader.string(),
            command: try reader.array { (r: inout WireReader) throws(ProtocolError) in try CommandPiece(from: &r) },
            environment: try reader.map { (r: inout WireReader) throws(ProtocolError) in try r.string() },
            code: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() },
            inputs: try reader.array { (r: inout WireReader) throws(ProtocolError) in try DispatchInput(from: &r) },
            outputs: try reader.array { (r: inout WireReader) throws(ProtocolError) in try DispatchOutput(from: &r) },
            timeoutSeconds: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.int() },
            leaseSequence: try reader.unsigned(),
            gpuDevices: try reader.array { (r: inout WireReader) throws(ProtocolError) in try r.int() },
            environmentSetup: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try DispatchEnvironment(from: &r) }
        )
    }
}

extension DispatchEnvironment: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(label)
        writer.byte(kind.rawValue)
        writer.optional(python) { $0.string($1) }
        writer.strings(requirements)
        writer.string(digest)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        let label = try reader.string()
        let tag = try reader.byte()
        guard let kind = Kind(rawValue: tag) else { throw reader.fail("environment kind \(tag)") }
        self.init(
            label: label, kind: kind, python: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() },
            requirements: try reader.strings(), digest: try reader.string()
        )
    }
}

extension Cancel: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.string(reason)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(attemptID: try reader.string(), reason: try reader.string())
    }
}

extension AttemptStarted: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(attemptID: try reader.string())
    }
}

extension AttemptOutcome {
    private static let order: [AttemptOutcome] = [.succeeded, .failed, .timedOut, .canceled, .workerError, .handedBack, .fenced]

    fileprivate var tag: UInt8 { UInt8(Self.order.firstIndex(of: self)!) }

    fileprivate init(from reader: inout WireReader) throws(ProtocolError) {
        let tag = try reader.byte()
        guard Int(tag) < Self.order.count else { throw reader.fail("attempt outcome \(tag)") }
        self = Self.order[Int(tag)]
    }
}

extension AttemptFinished: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.byte(outcome.tag)
        writer.optional(exitCode) { $0.signed(Int64($1)) }
        writer.optional(signal) { $0.signed(Int64($1)) }
        writer.map(outputs) { $0.string($1) }
        writer.signed(startedAt)
        writer.signed(endedAt)
        writer.optional(message) { $0.string($1) }
        writer.optional(tracking) { $0.string($1) }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            attemptID: try reader.string(), outcome: try AttemptOutcome(from: &reader),
            exitCode: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.int32() },
            signal: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.int32() },
            outputs: try reader.map { (r: inout WireReader) throws(ProtocolError) in try r.string() },
            startedAt: try reader.signed(), endedAt: try reader.signed(),
            message: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() },
            tracking: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() }
        )
    }
}

extension AttemptAcknowledged: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.bool(accepted)
        writer.optional(reason) { $0.string($1) }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            attemptID: try reader.string(), accepted: try reader.bool(),
            reason: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() }
        )
    }
}

extension LogChunk: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.byte(stream == .stdout ? 0 : 1)
        writer.int(sequence)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        let attemptID = try reader.string()
        let stream: LogStream
        switch try reader.byte() {
        case 0: stream = .stdout
        case 1: stream = .stderr
        case let other: throw reader.fail("log stream \(other)")
        }
        self.init(attemptID: attemptID, stream: stream, sequence: try reader.int())
    }
}

extension Metrics: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.map(values) { $0.double($1) }
        writer.int(firstPoint)
        writer.array(points) { piece, point in
            piece.string(point.key)
            piece.double(point.value)
            piece.signed(point.step)
            piece.signed(point.timestamp)
            piece.optional(point.run) { $0.string($1) }
        }
        for values in [params, tags] {
            writer.array(values) { piece, value in
                piece.string(value.key)
                piece.string(value.value)
                piece.optional(value.run) { $0.string($1) }
            }
        }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        let attemptID = try reader.string()
        let values = try reader.map { (r: inout WireReader) throws(ProtocolError) in try r.double() }
        let firstPoint = try reader.int()
        let points = try reader.array { (r: inout WireReader) throws(ProtocolError) in
            MetricPoint(
                key: try r.string(), value: try r.double(), step: try r.signed(), timestamp: try r.signed(),
                run: try r.optional { (o: inout WireReader) throws(ProtocolError) in try o.string() }
            )
        }
        func tracked(_ r: inout WireReader) throws(ProtocolError) -> TrackedValue {
            TrackedValue(key: try r.string(), value: try r.string(), run: try r.optional { (o: inout WireReader) throws(ProtocolError) in try o.string() })
        }
        let params = try reader.array(tracked)
        let tags = try reader.array(tracked)
        self.init(attemptID: attemptID, values: values, firstPoint: firstPoint, points: points, params: params, tags: tags)
    }
}

extension FetchRequest: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(blob)
        writer.signed(offset)
        writer.int(credit)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(blob: try reader.string(), offset: try reader.signed(), credit: try reader.int())
    }
}

extension FetchChunk: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(blob)
        writer.signed(offset)
        writer.signed(size)
        writer.unsigned(checksum)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            blob: try reader.string(), offset: try reader.signed(), size: try reader.signed(),
            checksum: try reader.unsigned())
    }
}

extension FetchFailed: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(blob)
        writer.string(reason)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(blob: try reader.string(), reason: try reader.string())
    }
}

extension UploadBegin: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.string(blob)
        writer.signed(size)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(attemptID: try reader.string(), blob: try reader.string(), size: try reader.signed())
    }
}

extension UploadCredit: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(blob)
        writer.signed(offset)
        writer.int(credit)
        writer.bool(rewind)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(blob: try reader.string(), offset: try reader.signed(), credit: try reader.int(), rewind: try reader.bool())
    }
}

extension UploadChunk: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(attemptID)
        writer.string(blob)
        writer.signed(offset)
        writer.unsigned(checksum)
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            attemptID: try reader.string(), blob: try reader.string(), offset: try reader.signed(),
            checksum: try reader.unsigned())
    }
}

extension UploadStored: WireBody {
    public func write(to writer: inout WireWriter) {
        writer.string(blob)
        writer.bool(ok)
        writer.optional(reason) { $0.string($1) }
    }

    public init(from reader: inout WireReader) throws(ProtocolError) {
        self.init(
            blob: try reader.string(), ok: try reader.bool(),
            reason: try reader.optional { (r: inout WireReader) throws(ProtocolError) in try r.string() }
        )
    }
}

