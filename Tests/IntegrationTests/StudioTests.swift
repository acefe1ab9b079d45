import Foundation
import Testing
import TestKit

/// The studio in a real headless Chromium, against a real coordinator and worker: the DAG, live
/// updates without a reload, the log tail, and the login of a coordinator with a token.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct StudioTests {
    @Test func theRunPageDrawsTheDAGAndFollowsTheRunLive() async throws {
        try await withCluster(workers: 1) { cluster in
            let work = try ProcessHarness.temporaryDirectory()
            // `slow` logs a first line, waits for `more`, logs a second, then waits for `release`.
            let pipeline = try Fixtures.pipeline("""
                type: pipeline
                display_name: studio
                jobs:
                  first:
                    command: echo first > ${{outputs.data}}/data.txt
                    outputs:
                      data:
                  slow:
                    command: >-
                      echo first-part; while [ ! -e \(work)/more ]; do sleep 0.05; done;
                      echo second-part; while [ ! -e \(work)/release ]; do sleep 0.05; done;
                      cp ${{inputs.data}}/data.txt ${{outputs.result}}/
                    inputs:
                      data: ${{parent.jobs.first.outputs.data}}
                    outputs:
                      result:
                  last:
                    command: cat ${{inputs.result}}/data.txt
                    inputs:
                      result: ${{parent.jobs.slow.outputs.result}}
                  side:
                    command: cat ${{inputs.data}}/data.txt
                    inputs:
                      data: ${{parent.jobs.first.outputs.data}}
                """, in: work)
            let submitted = try await cluster.cli(["submit", pipeline])
            #expect(submitted.status == 0, "\(submitted.stderr)")
            let run = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

            let ui = try await cluster.cli(["ui", run, "--no-open"])
            #expect(ui.status == 0, "\(ui.stderr)")
            let address = ui.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(address == cluster.httpURL + "/ui#/run/" + run)

            let browser = try await WebDriverSession.start()
            do {
                try await browser.open(address)
                try await browser.waitFor("document.body.getAttribute('data-ready') === 'run'", "the run page")
                // One node per step, and the plan's edges.
                let nodes = try await browser.execute(
                    "return [...document.querySelectorAll('#dag .node[data-step]')].map(n => n.getAttribute('data-step')).sort()") as? [String]
                #expect(nodes == ["first", "last", "side", "slow"])
                let edges = try await browser.execute(
                    "return [...document.querySelectorAll('#dag path.edge')].map(e => e.getAttribute('data-from') + '->' + e.getAttribute('data-to')).sort()") as? [String]
                #expect(edges == ["first->side", "first->slow", "slow->last"])

                // The page is never reloaded: this mark would vanish.
                try await browser.execute("window.__conduitMark = 'same page'")
                try await browser.execute("document.querySelector('#dag .node[data-step=\"slow\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
                try await browser.waitFor("document.querySelector('#dag .node[data-step=\"slow\"]').getAttribute('data-status') === 'running'", "slow running")
                try await browser.waitFor("document.getElementById('log') && document.getElementById('log').textContent.includes('first-part')", "the first log line")
                let before = try await browser.execute("return document.getElementById('log').textContent") as? String ?? ""
                #expect(!before.contains("second-part"))
                try await browser.screenshot("run-running")
                #expect(FileManager.default.createFile(atPath: work + "/more", contents: nil))
                // The log tail grows.
                try await browser.waitFor("document.getElementById('log').textContent.includes('second-part')", "the log growing")
                #expect(FileManager.default.createFile(atPath: work + "/release", contents: nil))
                // The states change on the page without a reload.
                try await browser.waitFor(
                    "['first','slow','last','side'].every(s => document.querySelector('#dag .node[data-step=\"' + s + '\"]').getAttribute('data-status') === 'completed')",
                    timeout: .seconds(60), "every step completed")
                try await browser.waitFor("document.getElementById('run-status').getAttribute('data-status') === 'completed'", "the run completed")
                let mark = try await browser.execute("return window.__conduitMark") as? String
                #expect(mark == "same page")
                try await browser.screenshot("run-completed")

                // The same pipeline again reuses every step: the page marks them, and Compare shows both runs.
                let again = try await cluster.cli(["submit", pipeline, "--wait", "--json"])
                #expect(again.status == 0, "\(again.stderr)")
                let second = try #require(try again.json()["run"] as? String)
                try await browser.open(cluster.httpURL + "/ui#/run/" + second)
                try await browser.waitFor("document.querySelectorAll('#dag .node.reused[data-step]').length === 4", "four reused steps")
                try await browser.screenshot("run-reused")
                try await browser.open(cluster.httpURL + "/ui#/compare?a=\(run)&b=\(second)")
                try await browser.waitFor("document.querySelectorAll('#diff tr[data-step]').length === 4", "the comparison of four steps")
                let slowRow = try await browser.execute("return document.querySelector('#diff tr[data-step=\"slow\"]').textContent") as? String ?? ""
                #expect(slowRow.contains("reused"), "\(slowRow)")
                try await browser.screenshot("compare")

                // The other pages answer from the same API.
                try await browser.open(cluster.httpURL + "/ui#/registry")
                try await browser.waitFor("document.body.getAttribute('data-ready') === 'registry'", "the registry page")
                try await browser.open(cluster.httpURL + "/ui#/runs")
                try await browser.waitFor("document.querySelector('#runs tr[data-run=\"\(run)\"]')", "the run in the list")
                try await browser.screenshot("runs")
                try await browser.open(cluster.httpURL + "/ui#/workers")
                try await browser.waitFor("document.querySelector('#workers tr[data-worker=\"worker1\"]')", "worker1 in the list")
                try await browser.screenshot("workers")
            } catch {
                await browser.close()
                throw error
            }
            await browser.close()
        }
    }

    @Test func aCoordinatorWithATokenShowsTheLoginPageAndRefusesAWrongToken() async throws {
        let cluster = try Cluster()
        let token = "studio-token-0123456789abcdef"
        let tokenFile = cluster.directory + "/token"
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        #expect(chmod(tokenFile, 0o600) == 0)
        cluster.coordinatorOptions = ["--http-token-file", tokenFile]
        do {
            try await cluster.start(workers: 0)
            let browser = try await WebDriverSession.start()
            do {
                try await browser.open(cluster.httpURL + "/ui")
                #expect(try await browser.currentURL() == cluster.httpURL + "/ui/login")
                try await browser.waitFor("document.getElementById('token')", "the login form")
                try await browser.screenshot("login")
                try await browser.type("wrong-token-0123456789", into: "#token")
                try await browser.click("#login")
                try await browser.waitFor("document.getElementById('login-error')", "the wrong token refused")
                let cookies = try await browser.execute("return document.cookie") as? String ?? ""
                #expect(!cookies.contains("conduit_csrf"))
                try await browser.screenshot("login-refused")

                try await browser.type(token, into: "#token")
                try await browser.click("#login")
                try await browser.waitFor("document.body.getAttribute('data-ready') === 'runs'", "the runs page after logging in")
                // The token's cookie is HttpOnly: the page's scripts cannot read it.
                let visible = try await browser.execute("return document.cookie") as? String ?? ""
                #expect(visible.contains("conduit_csrf=") && !visible.contains(token), "\(visible)")
                // A state-changing request without the CSRF header is refused; with it, it reaches the route.
                let statuses = try await browser.execute("""
                    const done = arguments[arguments.length - 1];
                    const csrf = document.cookie.match(/conduit_csrf=([^;]*)/)[1];
                    Promise.all([
                      fetch('/v1/runs/no-such-run/cancel', { method: 'POST' }).then(r => r.status),
                      fetch('/v1/runs/no-such-run/cancel', { method: 'POST', headers: { 'X-Conduit-CSRF': csrf } }).then(r => r.status),
                      fetch('/v1/runs/no-such-run/cancel', { method: 'POST', headers: { 'X-Conduit-CSRF': 'x'.repeat(64) } }).then(r => r.status),
                    ]).then(done);
                    """, asynchronous: true) as? [Int]
                #expect(statuses == [403, 404, 403])
                try await browser.screenshot("runs-logged-in")
            } catch {
                await browser.close()
                throw error
            }
            await browser.close()
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}
