import Coordinator
import Store
import Testing

/// The mirror's decisions: batches within MLflow's limits, params sent once, tags when they change,
/// the run status an attempt ends with, the experiment name.
struct MLflowMirrorPlannerTests {
    static func point(_ key: String, _ value: Double, step: Int64) -> MetricPointRecord {
        MetricPointRecord(attemptID: "a", point: Int(step), runID: "r", step: "train", mlflowRun: "", key: key, stepIndex: step, timestamp: 1000 + step, value: value)
    }

    static func value(_ kind: String, _ key: String, _ value: String, run: String = "m1") -> TrackedValueRecord {
        TrackedValueRecord(attemptID: "a", runID: "r", step: "train", kind: kind, mlflowRun: run, key: key, value: value)
    }

    @Test func metricsGoInCallsOfAtMostAThousandInOrder() {
        let points = (0..<2500).map { Self.point("loss", Double($0), step: Int64($0)) }
        let batches = MLflowMirrorPlanner.metricBatches(points)
        #expect(batches.map(\.count) == [1000, 1000, 500])
        #expect(batches.flatMap { $0 }.map(\.step) == (0..<2500).map { Int64($0) })
        #expect(batches[0][7] == MLflowMetric(key: "loss", value: 7, timestamp: 1007, step: 7))
    }

    @Test func valuesMLflowWouldRefuseAreLeftOut() {
        let points = [Self.point("ok name/1.x-y_z", 1, step: 0), Self.point("bad:colon", 2, step: 1), Self.point("nan", .nan, step: 2)]
        #expect(MLflowMirrorPlanner.metricBatches(points).flatMap { $0 }.map(\.key) == ["ok name/1.x-y_z"])
        #expect(MLflowMirrorPlanner.metricBatches([]).isEmpty)
        #expect(!MLflowMirrorPlanner.isValidKey(String(repeating: "k", count: 251)))
    }

    @Test func paramsAreSentOnceAndTagsWhenTheyChange() {
        let first = MLflowMirrorPlanner.valueBatches(
            [Self.value("param", "C", "0.5"), Self.value("tag", "team", "vision"), Self.value("tag", "mlflow.user", "me")], sent: [:])
        #expect(first.batches.count == 1)
        #expect(first.batches[0].params == [MLflowKeyValue(key: "C", value: "0.5")])
        #expect(first.batches[0].tags == [MLflowKeyValue(key: "team", value: "vision")], "MLflow's own tags stay in the step's store")
        let same = MLflowMirrorPlanner.valueBatches([Self.value("param", "C", "0.5"), Self.value("tag", "team", "vision")], sent: first.sent)
        #expect(same.batches.isEmpty, "nothing new")
        let changed = MLflowMirrorPlanner.valueBatches(
            [Self.value("param", "C", "0.7", run: "m2"), Self.value("tag", "team", "audio")], sent: first.sent)
        #expect(changed.batches.count == 1 && changed.batches[0].params.isEmpty, "a param keeps its first value: MLflow refuses a change")
        #expect(changed.batches[0].tags == [MLflowKeyValue(key: "team", value: "audio")])
    }

    @Test func paramsAndTagsGoInCallsOfAtMostAHundredEach() {
        let values = (0..<250).map { Self.value("param", "p\($0)", "\($0)") } + (0..<120).map { Self.value("tag", "t\($0)", "\($0)") }
        let planned = MLflowMirrorPlanner.valueBatches(values, sent: [:])
        #expect(planned.batches.map(\.params.count) == [100, 100, 50])
        #expect(planned.batches.map(\.tags.count) == [100, 20, 0])
        #expect(planned.sent.count == 370)
    }

    @Test(arguments: [
        ("succeeded", "FINISHED"), ("failed", "FAILED"), ("timed_out", "FAILED"), ("lost", "FAILED"), ("worker_error", "FAILED"),
        ("canceled", "KILLED"), ("handed_back", "KILLED"),
    ])
    func anEndedAttemptEndsItsRun(status: String, expected: String) {
        #expect(MLflowMirrorPlanner.runStatus(attemptStatus: status) == expected)
    }

    @Test func aRunningAttemptKeepsItsRunOpen() {
        #expect(MLflowMirrorPlanner.runStatus(attemptStatus: "running") == nil)
        #expect(MLflowMirrorPlanner.runStatus(attemptStatus: "dispatched") == nil)
    }

    @Test func theExperimentIsTheExperimentNameElseTheFolderName() {
        #expect(MLflowMirrorPlanner.experimentName(experimentName: "churn", sourceFile: "/home/me/proj/pipeline.yml") == "churn")
        #expect(MLflowMirrorPlanner.experimentName(experimentName: nil, sourceFile: "/home/me/proj/pipeline.yml") == "proj")
        #expect(MLflowMirrorPlanner.experimentName(experimentName: "", sourceFile: "/pipeline.yml") == "Default")
        #expect(MLflowMirrorPlanner.identityTags(runID: "r1", step: "fast/train", attempt: 2)
            == ["conduit.run": "r1", "conduit.step": "fast/train", "conduit.attempt": "2"])
    }
}
