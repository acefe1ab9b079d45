import ZeroMQ

/// Fresh CURVE key pairs for tests that authenticate workers.
public enum TestKeys {
    /// The public key (Z85, 40 characters) of a newly generated key pair.
    public static func publicKey() throws -> String {
        try ZMQCurveKeyPair.generate().publicKey.z85
    }
}
