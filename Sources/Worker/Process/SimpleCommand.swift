#if canImport(Glibc)
import Glibc
#endif

/// Recognises commands that `bash -c` would run by exec'ing one program, so the worker can exec
/// it itself and save bash's start-up (about 1.4 ms a step here).
///
/// A command qualifies only when it is a single simple command made of plain words: characters
/// that bash never expands or interprets (letters, digits and `_ . / : = + , @ % -`), separated by
/// spaces or tabs; its first word is not an assignment, a builtin or a keyword; and the program is
/// found (on `PATH` unless the word has a `/`). Then bash itself would exec the program with the
/// same arguments, after setting `PWD` to the physical working directory, `SHLVL` to `0` when
/// unset, and `_` to the program's path, and `environment(for:)` does the same. Everything else
/// (quotes, `$`, globs, redirections, pipes, several lines, builtins, a missing program) goes to
/// `bash -c` as written.
public enum SimpleCommand {
    /// The words of `command` when it is a plain simple command, else nil.
    public static func words(of command: String) -> [String]? {
        var words: [String] = []
        var current: [UInt8] = []
        for byte in command.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                if !current.isEmpty {
                    words.append(String(decoding: current, as: UTF8.self))
                    current.removeAll(keepingCapacity: true)
                }
                continue
            }
            guard isPlain(byte) else { return nil }
            current.append(byte)
        }
        if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
        guard let first = words.first, !first.contains("="), !shellWords.contains(first) else { return nil }
        return words
    }

    /// The program bash would run for `name`: `name` itself when it has a `/`, else the first
    /// executable regular file named so in `PATH` (an empty entry is the working directory).
    public static func resolve(_ name: String, path: String?, workingDirectory: String) -> String? {
        if name.contains("/") {
            let full = name.hasPrefix("/") ? name : workingDirectory + "/" + name
            return isExecutableFile(full) ? full : nil
        }
        for entry in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let directory = entry.isEmpty ? workingDirectory : String(entry)
            let candidate = directory + "/" + name
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// The environment bash would give the program it execs.
    public static func environment(_ base: [String: String], program: String, workingDirectory: String) -> [String: String] {
        var environment = base
        if let resolved = realpath(workingDirectory, nil) {
            environment["PWD"] = String(cString: resolved)
            free(resolved)
        } else {
            environment["PWD"] = workingDirectory
        }
        if environment["SHLVL"] == nil { environment["SHLVL"] = "0" }
        environment["_"] = program
        return environment
    }

    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "="),
             UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }

    /// bash builtins and reserved words: these never exec a program of that name.
    static let shellWords: Set<String> = [
        ".", ":", "[", "[[", "]]", "{", "}", "!", "alias", "bg", "bind", "break", "builtin", "caller", "case", "cd",
        "command", "compgen", "complete", "compopt", "continue", "coproc", "declare", "dirs", "disown", "do", "done",
        "echo", "elif", "else", "enable", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for",
        "function", "getopts", "hash", "help", "history", "if", "in", "jobs", "kill", "let", "local", "logout",
        "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "select", "set",
        "shift", "shopt", "source", "suspend", "test", "then", "time", "times", "trap", "true", "type", "typeset",
        "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
    ]
}
