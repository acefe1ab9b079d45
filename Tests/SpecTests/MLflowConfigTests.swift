import Spec
import Testing

/// `mlflow: {tracking_uri: ...}` in the coordinator's configuration file.
struct MLflowConfigTests {
    @Test func theTrackingURIIsRead() throws {
        let config = try PlacementConfigFile.parse("mlflow: {tracking_uri: 'http://127.0.0.1:5000'}\n", file: "/etc/conduit.yml")
        #expect(config.mlflowTrackingURI == "http://127.0.0.1:5000")
        #expect(try PlacementConfigFile.parse("compute: {}\n", file: "/etc/conduit.yml").mlflowTrackingURI == nil)
    }

    @Test(arguments: [
        ("mlflow: {tracking_uri: 'file:///tmp/mlruns'}\n", "not an MLflow server's URL"),
        ("mlflow: {tracking_uri: 'http://'}\n", "not an MLflow server's URL"),
        ("mlflow: {tracking_uri: 5000}\n", "http://HOST:PORT"),
        ("mlflow: {uri: 'http://a:1'}\n", "unknown key 'uri'; mlflow: has tracking_uri"),
        ("mlflow: {}\n", "needs tracking_uri"),
    ])
    func aBadMLflowEntryIsRefusedWithItsLine(_ text: String, _ words: String) throws {
        do {
            _ = try PlacementConfigFile.parse(text, file: "/etc/conduit.yml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.file == "/etc/conduit.yml" && error.line == 1, "\(error)")
            #expect(error.description.contains(words), "\(error)")
        }
    }
}
