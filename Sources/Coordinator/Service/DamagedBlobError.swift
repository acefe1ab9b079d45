import Artifacts

/// A blob whose stored bytes did not hash to its name when the coordinator copied it out.
struct DamagedBlobError: Error, CustomStringConvertible {
    let digest: Digest

    var description: String {
        "blob \(digest.hex.prefix(12)) failed verification while it was copied and was quarantined; "
            + "the step that made it runs again on the next submission"
    }
}
