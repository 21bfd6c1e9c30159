// Preloaded into the peer gateway (NODE_OPTIONS=--require …) by the aigate
// benchmark: Portkey's server has no host flag and listens on every
// interface, so every listen is forced onto 127.0.0.1, and every outgoing
// connection to anything but loopback is refused before it is attempted.
// The benchmark also runs in a network namespace with only loopback; this
// holds where that namespace cannot be had.
'use strict';
const net = require('net');

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1']);

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a = args[0];
  if (a !== null && typeof a === 'object' && !Array.isArray(a) && !('fd' in a) && !('path' in a) && !('_handle' in a)) {
    args[0] = { ...a, host: '127.0.0.1' };
  } else if (typeof a === 'number' || (typeof a === 'string' && /^\d+$/.test(a))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof args[1] === 'string') args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let host;
  const a = args[0];
  if (Array.isArray(a)) {
    host = a[0] && a[0].host; // the normalized form Node passes internally
  } else if (a !== null && typeof a === 'object') {
    host = a.path ? undefined : (a.host || 'localhost');
  } else if (typeof a === 'number' || (typeof a === 'string' && /^\d+$/.test(a))) {
    host = typeof args[1] === 'string' ? args[1] : 'localhost';
  }
  if (host !== undefined && !LOOPBACK.has(host)) {
    const err = new Error(`aigate bench: refused connection to ${host}: only loopback is allowed`);
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};
