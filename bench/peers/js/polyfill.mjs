// Imported before any libp2p module is evaluated (libp2p is loaded with a
// dynamic import() after this): libp2p 3.x calls Promise.withResolvers(),
// which Node ships only from version 22.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
