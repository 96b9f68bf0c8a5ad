-- gevent._socket (private, not part of the API): what gevent.socket shares
-- with gevent's own modules (gevent.server, gevent.monkey) and specs, kept
-- out of its public table: resolve, split_address, connect_any,
-- cooperative_methods, luasocket_classes, patch_luasocket. gevent.socket
-- makes this table as it loads (it is in package.loaded from then on).
require "gevent.socket"
return package.loaded["gevent._socket"]
