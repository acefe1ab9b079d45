import Protocol

/// libFuzzer entry point: the input is split into frames (`LengthPrefixedFrames`) and decoded as one
/// worker-protocol message. Decoding must return a message or throw `ProtocolError`, never trap; a decoded
/// message must encode and decode again to the same message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtocol(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let frames = LengthPrefixedFrames.split(bytes)
    guard let message = try? MessageCodec.decode(frames) else { return 0 }
    let again = MessageCodec.encode(message)
    guard let decoded = try? MessageCodec.decode(again) else {
        fatalError("a decoded \(message.payload.code) message does not decode after encoding")
    }
    if MessageCodec.encode(decoded) != again {
        fatalError("a decoded \(message.payload.code) message does not encode to the same frames twice")
    }
    return 0
}
