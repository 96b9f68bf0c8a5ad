---@meta gevent.socket
-- lua-language-server annotations for gevent.socket (reference:
-- docs/api/socket.md): LuaSocket's API, where every wait blocks only the
-- calling greenlet. Failures return `nil, err` as LuaSocket's do.

---@class gevent.socket
local socket = {}

---A file descriptor, or an object with `getfd`.
---@alias gevent.socket.fd integer|{getfd: fun(self): integer}

---A TCP object (LuaSocket's `tcp{master}`, `tcp{client}`, `tcp{server}`
---in one); entries under `tcp` hold for every kind that has the method.
---@class gevent.socket.tcp
local tcp = {}

---Waits for a connection: a new socket, or `nil, err` (`"timeout"`,
---`"closed"`, ...).
---@return gevent.socket.tcp|nil
---@return string? err
function tcp:accept() end

---Binds (`"*"`: any address; Unix-domain objects: `bind(path)`).
---@param address string
---@param port? integer|string
---@return 1|nil
---@return string? err
function tcp:bind(address, port) end

---Connects, waiting cooperatively within the timeout (Unix-domain
---objects: `connect(path)`).
---@param address string
---@param port? integer|string
---@return 1|nil
---@return string? err
function tcp:connect(address, port) end

---Closes the socket, first waking the greenlets waiting on it.
---@return 1
function tcp:close() end

---Whether data is buffered for `receive`.
---@return boolean
function tcp:dirty() end

---`"inet4"` or `"inet6"`.
---@return string
function tcp:getfamily() end

---The file descriptor (-1 once closed).
---@return integer
function tcp:getfd() end

---LuaSocket's `getoption` (`"keepalive"`, `"reuseaddr"`, `"tcp-nodelay"`,
---`"linger"`, ...).
---@param name string
---@return any
function tcp:getoption(name) end

---The peer's address, port and family.
---@return string|nil address
---@return integer|string port
---@return string? family
function tcp:getpeername() end

---The local address, port and family.
---@return string|nil address
---@return integer|string port
---@return string? family
function tcp:getsockname() end

---Bytes received, bytes sent, age in seconds.
---@return number received
---@return number sent
---@return number age
function tcp:getstats() end

---The block and total timeouts (-1: none).
---@return number block
---@return number total
function tcp:gettimeout() end

---Makes a bound socket a server socket.
---@param backlog? integer
---@return 1|nil
---@return string? err
function tcp:listen(backlog) end

---LuaSocket's `receive` (`"*l"`, `"*a"`, a byte count), waiting
---cooperatively: the data, or `nil, err, partial`.
---@param pattern? "*l"|"*a"|"l"|"a"|integer
---@param prefix? string
---@return string|nil data
---@return string? err
---@return string? partial
function tcp:receive(pattern, prefix) end

---LuaSocket's `send`, waiting cooperatively: the index of the last byte
---sent, or `nil, err, last`.
---@param data string
---@param i? integer
---@param j? integer
---@return integer|nil last
---@return string? err
---@return integer? last_sent
function tcp:send(data, i, j) end

---LuaSocket's `setfd` (use with care).
---@param fd integer
function tcp:setfd(fd) end

---LuaSocket's `setoption`.
---@param name string
---@param value? any
---@return 1|nil
---@return string? err
function tcp:setoption(name, value) end

---LuaSocket's alias of `connect` on TCP objects.
---@param address string
---@param port? integer|string
---@return 1|nil
---@return string? err
function tcp:setpeername(address, port) end

---LuaSocket's alias of `bind` on TCP objects.
---@param address string
---@param port? integer|string
---@return 1|nil
---@return string? err
function tcp:setsockname(address, port) end

---LuaSocket's `setstats`.
---@param received number
---@param sent number
---@param age number
---@return 1
function tcp:setstats(received, sent, age) end

---Sets the timeout (`nil` or negative: none); mode `"b"` bounds each
---wait, `"t"` the whole call.
---@param value number?
---@param mode? "b"|"t"
---@return 1
function tcp:settimeout(value, mode) end

---LuaSocket's `shutdown` (`"both"`, `"send"`, `"receive"`).
---@param mode? "both"|"send"|"receive"
---@return 1
function tcp:shutdown(mode) end

---A UDP object.
---@class gevent.socket.udp: gevent.socket.tcp
local udp = {}

---Waits for a datagram: the datagram, or `nil, err`.
---@param size? integer
---@return string|nil
---@return string? err
function udp:receive(size) end

---Waits for a datagram: the datagram, the sender's address and port, or
---`nil, err`.
---@param size? integer
---@return string|nil datagram
---@return string address_or_err
---@return integer? port
function udp:receivefrom(size) end

---Sends on a connected UDP object: the number of bytes sent, or
---`nil, err`.
---@param datagram string
---@return integer|nil
---@return string? err
function udp:send(datagram) end

---Sends to `address`/`port`: the number of bytes sent, or `nil, err`.
---@param datagram string
---@param address string
---@param port integer|string
---@return integer|nil
---@return string? err
function udp:sendto(datagram, address, port) end

---LuaSocket's `setpeername` (`"*"` disconnects).
---@param address string
---@param port? integer|string
---@return 1|nil
---@return string? err
function udp:setpeername(address, port) end

---LuaSocket's bind for UDP objects.
---@param address string
---@param port integer|string
---@return 1|nil
---@return string? err
function udp:setsockname(address, port) end

---A Unix-domain stream object.
---@class gevent.socket.unixstream: gevent.socket.tcp

---A Unix-domain datagram object.
---@class gevent.socket.unixdgram: gevent.socket.udp

---A new TCP object, or `nil, err`.
---@return gevent.socket.tcp|nil
---@return string? err
function socket.tcp() end

---As `tcp()`, IPv4.
---@return gevent.socket.tcp|nil
---@return string? err
function socket.tcp4() end

---As `tcp()`, IPv6.
---@return gevent.socket.tcp|nil
---@return string? err
function socket.tcp6() end

---A new UDP object, or `nil, err`.
---@return gevent.socket.udp|nil
---@return string? err
function socket.udp() end

---As `udp()`, IPv4.
---@return gevent.socket.udp|nil
---@return string? err
function socket.udp4() end

---As `udp()`, IPv6.
---@return gevent.socket.udp|nil
---@return string? err
function socket.udp6() end

---The Unix-domain constructors (when LuaSocket's `socket.unix` is
---installed).
socket.unix = {}

---A new Unix-domain stream object.
---@return gevent.socket.unixstream|nil
---@return string? err
function socket.unix.stream() end

---A new Unix-domain datagram object.
---@return gevent.socket.unixdgram|nil
---@return string? err
function socket.unix.dgram() end

---The same as `unix.stream()`.
---@return gevent.socket.unixstream|nil
---@return string? err
function socket.unix.tcp() end

---The same as `unix.dgram()`.
---@return gevent.socket.unixdgram|nil
---@return string? err
function socket.unix.udp() end

---A gevent.socket object for a raw LuaSocket object.
---@param raw userdata|gevent.socket.tcp
---@return gevent.socket.tcp
function socket.wrap(raw) end

---The raw LuaSocket object of a gevent.socket object (anything else as
---is).
---@param obj any
---@return any
function socket.unwrap(obj) end

---Resolves `address`, connects (binding to `laddress`/`lport` first),
---trying each address: the connected object, or `nil, err`.
---@param address string
---@param port integer|string
---@param laddress? string
---@param lport? integer|string
---@param family? "inet"|"inet6"
---@return gevent.socket.tcp|nil
---@return string? err
function socket.connect(address, port, laddress, lport, family) end

---`connect(address, port, laddress, lport, "inet")`.
---@param address string
---@param port integer|string
---@param laddress? string
---@param lport? integer|string
---@return gevent.socket.tcp|nil
---@return string? err
function socket.connect4(address, port, laddress, lport) end

---`connect(address, port, laddress, lport, "inet6")`.
---@param address string
---@param port integer|string
---@param laddress? string
---@param lport? integer|string
---@return gevent.socket.tcp|nil
---@return string? err
function socket.connect6(address, port, laddress, lport) end

---A listening TCP object bound to `host` (`"*"`: all IPv4 addresses) and
---`port` (0: any free port), or `nil, err`.
---@param host string
---@param port integer|string
---@param backlog? integer
---@return gevent.socket.tcp|nil
---@return string? err
function socket.bind(host, port, backlog) end

---gevent's: connects to `address` (`{host, port}` or `"host:port"`),
---trying each resolved address: the connected object, or `nil, err`.
---@param address {[1]: string, [2]: integer}|string
---@param timeout? number
---@param source_address? {[1]: string, [2]: integer}|string
---@return gevent.socket.tcp|nil
---@return string? err
function socket.create_connection(address, timeout, source_address) end

---Seconds `create_connection` waits for an attempt before it starts the
---next one beside it (RFC 8305; default 0.25).
---@type number
socket.happy_eyeballs_delay = 0.25

---LuaSocket's `select`, cooperative and without an `FD_SETSIZE` limit:
---the readable and the writable arrays, and `"timeout"` when none is
---ready.
---@param recvt? gevent.socket.fd[]
---@param sendt? gevent.socket.fd[]
---@param timeout? number
---@return table readable
---@return table writable
---@return string? err
function socket.select(recvt, sendt, timeout) end

---Waits until `fd` is readable: `true`, or `nil, "timeout"`,
---`nil, "closed"`.
---@param fd gevent.socket.fd
---@param timeout? gevent.timeout
---@return true|nil
---@return string? err
function socket.wait_read(fd, timeout) end

---As `wait_read`, for writability.
---@param fd gevent.socket.fd
---@param timeout? gevent.timeout
---@return true|nil
---@return string? err
function socket.wait_write(fd, timeout) end

---As `wait_read`, for either.
---@param fd gevent.socket.fd
---@param timeout? gevent.timeout
---@return true|nil
---@return string? err
function socket.wait_readwrite(fd, timeout) end

---The primitive under the three above: `events` 1 (read), 2 (write) or 3.
---@param fd gevent.socket.fd
---@param events 1|2|3
---@param timeout? gevent.timeout
---@return true|nil
---@return string? err
function socket.wait(fd, events, timeout) end

---Wakes the greenlets waiting on `fd` (they get `nil, "closed"`): how
---many.
---@param fd gevent.socket.fd
---@return integer
function socket.cancel_wait(fd) end

---`gevent.sleep(seconds or 0)`.
---@param seconds? number
function socket.sleep(seconds) end

---The wall-clock time in seconds.
---@return number
function socket.gettime() end

---gevent's `getaddrinfo`, cooperative: an array of `{family=, addr=,
---port=, socktype=, protocol=, canonname=}`, or `nil, err`.
---@param host? string
---@param port? integer|string
---@param family? "inet"|"inet6"|"unspec"|integer
---@param socktype? "stream"|"dgram"|"any"|integer
---@param proto? integer
---@param flags? integer
---@return table[]|nil
---@return string? err
function socket.getaddrinfo(host, port, family, socktype, proto, flags) end

---The IPv4 address of `name`, or `nil, err`.
---@param name string
---@return string|nil
---@return string? err
function socket.gethostbyname(name) end

---The canonical name, the aliases and the addresses, or `nil, err`.
---@param name string
---@return string|nil canonical
---@return string[]|string aliases_or_err
---@return string[]? addresses
function socket.gethostbyname_ex(name) end

---LuaSocket's `socket.dns` functions, cooperative.
socket.dns = {}

---The first address of `name` and the resolved table, or `nil, err`.
---@param name string
---@return string|nil
---@return table|string resolved_or_err
function socket.dns.toip(name) end

---The canonical name and the resolved table, or `nil, err`.
---@param address string
---@return string|nil
---@return table|string resolved_or_err
function socket.dns.tohostname(address) end

---An array of `{family=, addr=, ...}` for `host`, or `nil, err`.
---@param host string
---@return table[]|nil
---@return string? err
function socket.dns.getaddrinfo(host) end

---The names of `host` and the service name of `serv`, or `nil, err`.
---@param host? string
---@param serv? integer|string
---@return string[]|nil
---@return string[]|string? serv_or_err
function socket.dns.getnameinfo(host, serv) end

---The host name.
---@return string
function socket.dns.gethostname() end

---LuaSocket's block size for sources and sinks (2048).
---@type integer
socket.BLOCKSIZE = nil

---LuaSocket's `socket.newtry`.
---@param finalizer? function
---@return fun(...: any): ...
function socket.newtry(finalizer) end

---LuaSocket's `socket.protect`.
---@param f function
---@return function
function socket.protect(f) end

---LuaSocket's `socket.try`.
---@param ... any
---@return any ...
function socket.try(...) end

---LuaSocket's `socket.skip`: drops `d` arguments.
---@param d integer
---@param ... any
---@return any ...
function socket.skip(d, ...) end

---LuaSocket's `socket.choose`.
---@param table table
---@return function
function socket.choose(table) end

---LuaSocket's LTN12 sink over a socket.
---@param mode "close-when-done"|"keep-open"|"default"
---@param sock gevent.socket.tcp
---@return function
function socket.sink(mode, sock) end

---LuaSocket's LTN12 source over a socket.
---@param mode "by-length"|"until-closed"|"default"
---@param sock gevent.socket.tcp
---@param length? integer
---@return function
function socket.source(mode, sock, length) end

---LuaSocket's table of sink constructors, by mode.
---@type table<string, function>
socket.sinkt = nil

---LuaSocket's table of source constructors, by mode.
---@type table<string, function>
socket.sourcet = nil

return socket
