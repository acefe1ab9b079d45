import Spec

/// libFuzzer entry point: the input is loaded as a pipeline file (`PipelineLoader.load(text:file:)`) in a
/// directory that does not exist, so component and data references resolve to nothing. Loading must return
/// a plan or throw `SpecError`, never trap or hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPipeline(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    guard let text = String(validating: bytes, as: UTF8.self) else { return 0 }
    _ = try? PipelineLoader.load(text: text, file: "/nonexistent-conduit-fuzz/pipeline.yml")
    return 0
}
