---@meta gevent.ssl
-- lua-language-server annotations for gevent.ssl (reference:
-- docs/api/ssl.md).

---@class gevent.ssl
local M = {}

---@alias gevent.ssl.params {mode?: "client"|"server", protocol?: "any"|"tlsv1_2"|"tlsv1_3", certificate?: string, key?: string, password?: string|fun(): string, cafile?: string, capath?: string, verify?: string|string[], depth?: integer, ciphers?: string, ciphersuites?: string, alpn?: string|string[], options?: string|string[], check_hostname?: boolean, sni?: table<string, gevent.ssl.Context|gevent.ssl.params>, sni_strict?: boolean, session_cache?: boolean}

---@alias gevent.ssl.wrap_options {server_side?: boolean, certfile?: string, keyfile?: string, password?: string, ca_certs?: string, cafile?: string, capath?: string, cert_reqs?: "none"|"optional"|"required", server_hostname?: string, alpn_protocols?: string|string[], ciphers?: string, ssl_version?: string, check_hostname?: boolean, context?: gevent.ssl.Context, do_handshake_on_connect?: boolean}

---A context from LuaSec's params table; `nil, msg` when a file cannot be
---loaded.
---@param params gevent.ssl.params
---@return gevent.ssl.Context|nil
---@return string? err
function M.newcontext(params) end

---A TLS connection over `sock` (which gives its fd up); the handshake is
---left to `dohandshake()`.
---@param sock gevent.socket.tcp|integer
---@param ctx gevent.ssl.Context|gevent.ssl.params
---@return gevent.ssl.Connection|nil
---@return string? err
function M.wrap(sock, ctx) end

---gevent's convenience: `wrap` with Python-style options, then the
---handshake.
---@param sock gevent.socket.tcp
---@param opts? gevent.ssl.wrap_options
---@return gevent.ssl.Connection|nil
---@return string? err
function M.wrap_socket(sock, opts) end

---A certificate from PEM text.
---@param pem string
---@return gevent.ssl.Certificate|nil
---@return string? err
function M.loadcertificate(pem) end

---A TLS context (settings shared by connections).
---@class gevent.ssl.Context
local Context = {}

---`"client"` or `"server"`.
---@return "client"|"server"
function Context:mode() end

---A TLS connection: LuaSec's and LuaSocket's methods, cooperative.
---@class gevent.ssl.Connection
local Connection = {}

---Performs the handshake: `true`, or `nil, err`.
---@return true|nil
---@return string? err
function Connection:dohandshake() end

---LuaSocket's receive: `"*l"`, `"*a"` or a count.
---@param pattern? string|integer
---@param prefix? string
---@return string|nil
---@return string? err
---@return string? partial
function Connection:receive(pattern, prefix) end

---Whatever arrived, up to `n` bytes, as soon as any did.
---@param n? integer
---@return string|nil
---@return string? err
function Connection:recv(n) end

---LuaSocket's send: the index of the last byte sent, or `nil, err, last`.
---@param data string
---@param i? integer
---@param j? integer
---@return integer|nil
---@return string? err
---@return integer? last
function Connection:send(data, i, j) end

---LuaSocket's settimeout (`"b"` or `"t"`).
---@param value? number
---@param mode? string
---@return 1
function Connection:settimeout(value, mode) end

---The block and total timeouts (`-1`: none).
---@return number block
---@return number total
function Connection:gettimeout() end

---Bytes received, bytes sent, age in seconds.
---@return integer received
---@return integer sent
---@return number age
function Connection:getstats() end

---Sends close_notify if it can without waiting, closes the fd.
---@return 1
function Connection:close() end

---The fd, or `-1` once closed.
---@return integer
function Connection:getfd() end

---Whether data is waiting to be read without a wait.
---@return boolean
function Connection:dirty() end

---Client: the server's name (SNI and the name checked). Server: a table
---of names to contexts, and `strict`.
---@param name string|table<string, gevent.ssl.Context>
---@param strict? boolean
---@return true|nil
---@return string? err
function Connection:sni(name, strict) end

---The name the client asked for (SNI).
---@return string?
function Connection:getsniname() end

---The protocol ALPN selected.
---@return string?
function Connection:getalpn() end

---Whether the handshake resumed a session.
---@return boolean
function Connection:resumed() end

---The peer's certificate (`n` 1) or the `n`-th of its chain.
---@param n? integer
---@return gevent.ssl.Certificate?
function Connection:getpeercertificate(n) end

---The certificates the peer sent.
---@return gevent.ssl.Certificate[]
function Connection:getpeerchain() end

---`true`, or `false, reason`.
---@return boolean
---@return string? reason
function Connection:getpeerverification() end

---What was negotiated, or one field of it.
---@param field? string
---@return table|string|integer|boolean|nil
function Connection:info(field) end

---An X.509 certificate.
---@class gevent.ssl.Certificate
local Certificate = {}

---The certificate in PEM.
---@return string
function Certificate:pem() end

---The subject: a list of `{name =, value =}`.
---@return {name: string, value: string}[]
function Certificate:subject() end

---The issuer: a list of `{name =, value =}`.
---@return {name: string, value: string}[]
function Certificate:issuer() end

---The serial number in hex.
---@return string
function Certificate:serial() end

---Start of validity.
---@return string
function Certificate:notbefore() end

---End of validity.
---@return string
function Certificate:notafter() end

---The signature algorithm.
---@return string
function Certificate:getsignaturename() end

---The subjectAltName extension, as LuaSec.
---@return table
function Certificate:extensions() end

---The hex digest (`"sha1"` by default).
---@param alg? string
---@return string
function Certificate:digest(alg) end

---Whether it names `name` (a host or an IP address).
---@param name string
---@return boolean
function Certificate:checkhost(name) end

---Whether it is valid at Unix time `time`.
---@param time number
---@return boolean
function Certificate:validat(time) end

return M
