---@meta gevent.ssl
-- lua-language-server annotations for gevent.ssl (reference:
-- docs/api/ssl.md): LuaSec's API shape, every wait cooperative.

---@class gevent.ssl
local ssl = {}

---LuaSec's params table (and gvlua's additions).
---@alias gevent.ssl.params {mode?: "client"|"server", protocol?: "any"|"tlsv1_2"|"tlsv1_3", certificate?: string, key?: string, password?: string|function, cafile?: string, capath?: string, verify?: string|string[], depth?: integer, ciphers?: string, ciphersuites?: string, alpn?: string|string[], check_hostname?: boolean, sni?: table<string, gevent.ssl.Context|table>, sni_strict?: boolean, session_cache?: boolean}

---`wrap_socket`'s Python-style options.
---@alias gevent.ssl.wrap_options {server_side?: boolean, certfile?: string, keyfile?: string, password?: string, ca_certs?: string, cafile?: string, capath?: string, cert_reqs?: "none"|"optional"|"required", server_hostname?: string, alpn_protocols?: string[], ciphers?: string, ssl_version?: string, check_hostname?: boolean, context?: gevent.ssl.Context, do_handshake_on_connect?: boolean}

---A TLS context (`newcontext`).
---@class gevent.ssl.Context
local Context = {}

---`"client"` or `"server"`.
---@return "client"|"server"
function Context:mode() end

---A TLS connection; `<close>`-able.
---@class gevent.ssl.Connection
local Connection = {}

---Performs the handshake, waiting within the timeout: `true`, or
---`nil, message`.
---@return true|nil
---@return string? err
function Connection:dohandshake() end

---As LuaSocket's (`"*l"`, `"*a"`, a byte count): the data, or
---`nil, err, partial`.
---@param pattern? "*l"|"*a"|"l"|"a"|integer
---@param prefix? string
---@return string|nil data
---@return string? err
---@return string? partial
function Connection:receive(pattern, prefix) end

---gevent's `recv`: whatever arrived, up to `n` bytes (default 16384), or
---`nil, err`.
---@param n? integer
---@return string|nil
---@return string? err
function Connection:recv(n) end

---As LuaSocket's: the index of the last byte sent, or `nil, err, last`.
---@param data string
---@param i? integer
---@param j? integer
---@return integer|nil last
---@return string? err
---@return integer? last_sent
function Connection:send(data, i, j) end

---As LuaSocket's: `"b"` each wait, `"t"` the whole call.
---@param value number?
---@param mode? "b"|"t"
---@return 1
function Connection:settimeout(value, mode) end

---The block and total timeouts (-1: none).
---@return number block
---@return number total
function Connection:gettimeout() end

---Bytes received, bytes sent, seconds since the connection was made.
---@return number received
---@return number sent
---@return number age
function Connection:getstats() end

---Sends close_notify if it can without waiting, closes the fd and wakes
---the greenlets waiting on the connection.
---@return 1
function Connection:close() end

---The fd, or -1 once closed.
---@return integer
function Connection:getfd() end

---Whether received data is waiting to be read without a wait.
---@return boolean
function Connection:dirty() end

---Client: the server's name (SNI, checked against its certificate).
---Server: `sni({[name] = context, ...}, strict)`. Before the handshake.
---@param name string|table<string, gevent.ssl.Context>
---@param strict? boolean
---@return true|nil
---@return string? err
function Connection:sni(name, strict) end

---The name the client asked for (SNI), or `nil`.
---@return string?
function Connection:getsniname() end

---The protocol ALPN selected, or `nil`.
---@return string?
function Connection:getalpn() end

---Whether the handshake resumed an earlier session.
---@return boolean
function Connection:resumed() end

---The peer's certificate (`n` 1) or the `n`-th of its chain, or `nil`.
---@param n? integer
---@return gevent.ssl.Certificate?
function Connection:getpeercertificate(n) end

---The certificates the peer sent, the peer's first.
---@return gevent.ssl.Certificate[]
function Connection:getpeerchain() end

---`true` when the peer's certificate was verified, else `false, reason`.
---@return boolean
---@return string? reason
function Connection:getpeerverification() end

---What was negotiated (`{protocol=, cipher=, bits=, resumed=, alpn=,
---sni=}`), or that one field; `nil` before the handshake.
---@param field? string
---@return any
function Connection:info(field) end

---An X.509 certificate.
---@class gevent.ssl.Certificate
local Certificate = {}

---The certificate in PEM.
---@return string
function Certificate:pem() end

---The subject name: a list of `{name = "CN", value = "example.org"}`.
---@return {name: string, value: string}[]
function Certificate:subject() end

---The issuer name, as `subject()`.
---@return {name: string, value: string}[]
function Certificate:issuer() end

---The serial number in hex.
---@return string
function Certificate:serial() end

---Start of validity (`"Jan  1 00:00:00 2020 GMT"`).
---@return string
function Certificate:notbefore() end

---End of validity.
---@return string
function Certificate:notafter() end

---The signature algorithm (`"ecdsa-with-SHA256"`).
---@return string
function Certificate:getsignaturename() end

---As LuaSec, for the subjectAltName extension.
---@return table
function Certificate:extensions() end

---The hex digest (`"sha1"` by default, `"sha256"`, ...).
---@param alg? string
---@return string
function Certificate:digest(alg) end

---Whether the certificate names `name` (a host name or an IP address).
---@param name string
---@return boolean
function Certificate:checkhost(name) end

---Whether it is valid at Unix time `time`.
---@param time number
---@return boolean
function Certificate:validat(time) end

---A context from LuaSec's params table, or `nil, message`.
---@param params gevent.ssl.params
---@return gevent.ssl.Context|nil
---@return string? err
function ssl.newcontext(params) end

---A TLS connection over `sock` (which gives its fd up to it); the
---handshake is left to `dohandshake()`. `nil, message` on failure.
---@param sock gevent.socket.tcp|integer
---@param ctx gevent.ssl.Context|gevent.ssl.params
---@return gevent.ssl.Connection|nil
---@return string? err
function ssl.wrap(sock, ctx) end

---gevent's convenience: `wrap` with Python-style options, then the
---handshake; `nil, message` on failure (the socket is then closed).
---@param sock gevent.socket.tcp
---@param opts? gevent.ssl.wrap_options
---@return gevent.ssl.Connection|nil
---@return string? err
function ssl.wrap_socket(sock, opts) end

---A `Certificate` from PEM text, or `nil, message`.
---@param pem string
---@return gevent.ssl.Certificate|nil
---@return string? err
function ssl.loadcertificate(pem) end

return ssl
