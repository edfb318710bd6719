/** Python's str() and repr() of JSON values, as authentik's Python code prints them (prompts, SAML attributes, event summaries). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pyRepr, pyStr } from '../../src/expressions/py-str.js';

describe('pyStr / pyRepr', () => {
  it('scalars as Python prints them; a string as itself under str(), quoted under repr()', () => {
    assert.deepEqual(
      [null, true, false, 3, 'it'].map((v) => pyStr(v)),
      ['None', 'True', 'False', '3', 'it'],
    );
    assert.equal(pyRepr("it's"), "'it\\'s'");
  });

  it('lists and dicts as Python prints them (a SAML attribute of {"a": 1} is "{\'a\': 1}", not JSON)', () => {
    assert.equal(pyStr({ a: 1, b: [true, null, 'x'] }), "{'a': 1, 'b': [True, None, 'x']}");
    assert.equal(pyStr([]), '[]');
    assert.equal(pyStr({}), '{}');
  });
});
