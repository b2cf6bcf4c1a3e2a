// Polyfills that must be in place before any libp2p module is evaluated.
// Import this module first, then load libp2p modules with a dynamic import().
//
// libp2p 3.x calls Promise.withResolvers(), which Node ships only from 22.

if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
