import assert from "node:assert/strict";
import { sameSecret } from "./token.ts";

Deno.test("sameSecret: equal only for the same bytes, whatever the lengths", () => {
  const e = (s: string) => new TextEncoder().encode(s);
  assert.equal(sameSecret(e("Bearer s3cret"), e("Bearer s3cret")), true);
  assert.equal(sameSecret(e(""), e("")), true);
  for (const got of ["Bearer s3creT", "Bearer s3cre", "Bearer s3cret!", "", "x"]) {
    assert.equal(sameSecret(e(got), e("Bearer s3cret")), false, got);
  }
  // A longer guess whose first bytes are the secret is not the secret.
  assert.equal(sameSecret(e("abc\0"), e("abc")), false);
});
