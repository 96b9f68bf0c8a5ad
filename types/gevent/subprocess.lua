---@meta gevent.subprocess
-- lua-language-server annotations for gevent.subprocess (reference:
-- docs/api/subprocess.md).

---@class gevent.subprocess
local M = {}

---Where a child's stream goes: `PIPE`, `DEVNULL`, `STDOUT` (stderr only),
---an fd, an open Lua file, or another `Popen`'s pipe.
---@alias gevent.subprocess.stream integer|file*|gevent.subprocess.File

---`Popen`'s options (all optional): the three streams, `shell` (run
---`/bin/sh -c args`), `cwd`, `env` (replaces the environment),
---`executable`, `start_new_session`, `close_fds` (default `true`).
---@alias gevent.subprocess.options {stdin?: gevent.subprocess.stream, stdout?: gevent.subprocess.stream, stderr?: gevent.subprocess.stream, shell?: boolean, cwd?: string, env?: table<string, string>, executable?: string, start_new_session?: boolean, close_fds?: boolean}

---`run`'s options: `Popen`'s, and `input` (for stdin), `capture_output`,
---`timeout` (seconds) and `check` (raise on a non-zero exit).
---@alias gevent.subprocess.run_options {stdin?: gevent.subprocess.stream, stdout?: gevent.subprocess.stream, stderr?: gevent.subprocess.stream, shell?: boolean, cwd?: string, env?: table<string, string>, executable?: string, start_new_session?: boolean, close_fds?: boolean, input?: string, capture_output?: boolean, timeout?: number, check?: boolean}

---A pipe of a `Popen`, like a Lua file whose waits block only the calling
---greenlet.
---@class gevent.subprocess.File
local File = {}

---Like `file:read` (formats `"l"`, `"L"`, `"a"`, byte counts): one value
---per format, `nil` at the end; `nil, message, errno` on failure.
---@param ... string|integer
---@return string|nil ...
function File:read(...) end

---`read("L")` if `keepends`, else `read("l")`.
---@param keepends? boolean
---@return string?
function File:readline(keepends) end

---An iterator over `read(...)` (default `"l"`).
---@param ... string|integer
---@return fun(): string?
function File:lines(...) end

---Writes strings and numbers, waiting while the pipe is full: the file,
---or `nil, message, errno`.
---@param ... string|number
---@return gevent.subprocess.File|nil
---@return string? err
---@return integer? errno
function File:write(...) end

---Closes the pipe, waking a greenlet waiting on it.
---@return true
function File:close() end

---Does nothing (writes are not buffered).
---@return gevent.subprocess.File self
function File:flush() end

---The file descriptor.
---@return integer
function File:fileno() end

---The same as `fileno()`, for `gevent.select`.
---@return integer
function File:getfd() end

---Whether the pipe is closed.
---@return boolean
function File:closed() end

---`Popen(args, opts)` starts a child (`args`: an array of strings, or a
---string with `shell`); `<close>`-able.
---@class gevent.subprocess.Popen
---@field pid integer The child's process id.
---@field returncode integer? The exit code once reaped (negative: the signal), else `nil`.
---@field args string[]|string The `args` given.
---@field stdin gevent.subprocess.File? A writable pipe when `stdin = PIPE`.
---@field stdout gevent.subprocess.File? A readable pipe when `stdout = PIPE`.
---@field stderr gevent.subprocess.File? A readable pipe when `stderr = PIPE`.
---@overload fun(args: string[]|string, opts?: gevent.subprocess.options): gevent.subprocess.Popen
local Popen = {}

---The `returncode` if the child has exited, else `nil`.
---@return integer?
function Popen:poll() end

---Waits for the child to exit: the `returncode`; raises `TimeoutExpired`
---when a number timeout expires.
---@param timeout? number|{timeout?: number}|gevent.Timeout
---@return integer
function Popen:wait(timeout) end

---Writes `input` to stdin and closes it, reads stdout and stderr to their
---ends and waits for the child: the output and the error output.
---@param input? string|{input?: string, timeout?: number}
---@param timeout? number
---@return string? stdout
---@return string? stderr
function Popen:communicate(input, timeout) end

---Sends `sig` (a number or a name like `"SIGINT"`) to the child.
---@param sig integer|string
---@return true|nil ok
---@return string? err
---@return integer? errno
function Popen:send_signal(sig) end

---`send_signal("SIGTERM")`.
function Popen:terminate() end

---`send_signal("SIGKILL")`.
function Popen:kill() end

---Closes the pipes and waits: the `returncode`.
---@return integer
function Popen:close() end

---What `run` returns.
---@class gevent.subprocess.CompletedProcess
---@field args string[]|string The `args` given to `run`.
---@field returncode integer The exit code.
---@field stdout string? The captured output, or `nil`.
---@field stderr string? The captured error output, or `nil`.
local CompletedProcess = {}

---Raises `CalledProcessError` if `returncode` is not 0.
function CompletedProcess:check_returncode() end

---Raised by `check_call`, `check_output` and `run` with `check`.
---@class gevent.subprocess.CalledProcessError: gevent.ErrorClass
---@field returncode integer The command's exit code.
---@field cmd string[]|string The command's `args`.
---@field output string? The captured output, else `nil`.
---@field stdout string? The same as `output`.
---@field stderr string? The captured error output, or `nil`.
local CalledProcessError = {}

---Raised when a timeout of `run`, `call`, `wait`, `communicate` expires.
---@class gevent.subprocess.TimeoutExpired: gevent.ErrorClass
---@field cmd string[]|string The command's `args`.
---@field timeout number The timeout that expired, in seconds.
---@field output string? The output read so far by `communicate`.
---@field stdout string? The same as `output`.
---@field stderr string? The error output read so far by `communicate`.
local TimeoutExpired = {}

M.Popen = Popen
M.CompletedProcess = CompletedProcess
M.CalledProcessError = CalledProcessError
M.TimeoutExpired = TimeoutExpired

---The base class of `CalledProcessError` and `TimeoutExpired`.
---@type gevent.ErrorClass
M.SubprocessError = nil

---Option value: a new pipe (`p.stdout` and the like).
---@type integer
M.PIPE = nil

---Option value for `stderr`: into the same place as stdout.
---@type integer
M.STDOUT = nil

---Option value: `/dev/null`.
---@type integer
M.DEVNULL = nil

---Runs the command and waits for it.
---@param args string[]|string
---@param opts? gevent.subprocess.run_options
---@return gevent.subprocess.CompletedProcess
function M.run(args, opts) end

---Runs the command and waits for it: its exit code.
---@param args string[]|string
---@param opts? gevent.subprocess.run_options
---@return integer
function M.call(args, opts) end

---0, or raises `CalledProcessError`.
---@param args string[]|string
---@param opts? gevent.subprocess.run_options
---@return integer
function M.check_call(args, opts) end

---The command's standard output, or raises `CalledProcessError`.
---@param args string[]|string
---@param opts? gevent.subprocess.run_options
---@return string
function M.check_output(args, opts) end

---Runs `cmd` with the shell, stderr merged: the exit code and the output
---without its trailing newline.
---@param cmd string
---@return integer code
---@return string output
function M.getstatusoutput(cmd) end

---The output of `getstatusoutput(cmd)`.
---@param cmd string
---@return string
function M.getoutput(cmd) end

return M
