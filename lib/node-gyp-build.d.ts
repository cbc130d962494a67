// node-gyp-build ships no types: it returns the addon's exports for a package root.
declare module 'node-gyp-build' {
  function load(root: string): unknown;
  namespace load {
    /** The addon file load() would use for root (a prebuild, else build/Release). */
    function path(root: string): string;
  }
  export = load;
}
