/// Several frames in one byte string, for the protocol fuzzer and its corpus (`Tests/Fuzz/Corpus/protocol`).
///
/// Layout: each frame is a 2-byte little-endian length and that many bytes; a length that runs past the
/// end takes what is left, so every byte string splits into some frames (possibly none). Conduit never
/// sends this on the wire: ZeroMQ frames messages itself.
public enum LengthPrefixedFrames {
    /// Splits `bytes` into frames (see the type's documentation).
    public static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var index = 0
        while index + 2 <= bytes.count {
            let length = Int(bytes[index]) | Int(bytes[index + 1]) << 8
            let start = index + 2
            let end = min(start + length, bytes.count)
            frames.append(Array(bytes[start..<end]))
            index = end
        }
        return frames
    }

    /// Joins frames (each at most 65,535 bytes) into one byte string that ``split(_:)`` turns back into them.
    public static func join(_ frames: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for frame in frames {
            precondition(frame.count <= 0xFFFF, "LengthPrefixedFrames.join: a frame of \(frame.count) bytes is too long")
            bytes.append(UInt8(frame.count & 0xFF))
            bytes.append(UInt8(frame.count >> 8))
            bytes += frame
        }
        return bytes
    }
}
