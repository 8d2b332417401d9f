/** The library's private wire-format module (untyped); zookeeper-jute.ts replaces a few response decoders. */
declare module 'node-zookeeper-client/lib/jute' {
  const jute: {
    data: { [className: string]: unknown };
    protocol: { [className: string]: unknown };
    Request: unknown;
  };
  export = jute;
}
