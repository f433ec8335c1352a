export function ApiReference() {
  return (
    <>
      <h1>API reference</h1>
      <p className="notice">
        The server does not publish an OpenAPI document yet, so there is nothing to render here. The routes are
        described in <code>docs/api.md</code> in the source tree.
      </p>
    </>
  );
}
