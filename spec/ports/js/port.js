#!/usr/bin/env node
// A worked Node.js port of the 784-128-10 network (paper eq. (1)-(21)), speaking the exec
// protocol of spec/protocol.md. It needs Node.js 20 and no packages. Check it with
//
//     mnistref conformance --exec "node spec/ports/js/port.js"
//     mnistref conformance --exec "node spec/ports/js/port.js" --dtype float32
//
// An array is {kind, shape, data}: kind is the protocol's f64, f32, i64 or bool, data the
// entries in row-major order. A float32 array keeps its entries in a Float32Array, whose
// every store rounds to binary32; a value computed before it is stored is rounded with
// Math.fround after each operation, so float32 is computed in binary32 throughout.
//
// The choices the paper leaves open are spec/semantics.md's: samples are rows (W1 is
// (D, H)), biases are vectors, ReLU'(0) = 0, softmax is shifted by the row maximum, and the
// loss reads a true-class probability below the dtype's smallest normal number as that number.
'use strict';

const readline = require('node:readline');

// ---- The protocol: one request per line in, one answer per line out ----------------

const STORAGE = { f64: Float64Array, f32: Float32Array, i64: Float64Array, bool: Uint8Array };

// The value that starts at tokens[at.i]; a 0-d array (seed, size, K, lr) is a plain number.
function readValue(tokens, at) {
  const kind = tokens[at.i++];
  if (kind === 'str') return tokens[at.i++];
  if (kind === 'tuple') return Array.from({ length: Number(tokens[at.i++]) }, () => readValue(tokens, at));
  if (!(kind in STORAGE)) throw new Error(`unknown value kind ${kind}`);
  const ndim = Number(tokens[at.i++]);
  const shape = tokens.slice(at.i, (at.i += ndim)).map(Number);
  const data = new STORAGE[kind](shape.reduce((n, d) => n * d, 1));
  for (let k = 0; k < data.length; k++) data[k] = readNumber(tokens[at.i++]);
  return ndim === 0 ? data[0] : { kind, shape, data };
}

function readNumber(token) {
  const x = token === 'inf' ? Infinity : token === '-inf' ? -Infinity : Number(token);
  if (Number.isNaN(x) && token !== 'nan') throw new Error(`not a number: ${token}`);
  return x;
}

// String(x) is the shortest round-trip form; it writes -0 as "0" and spells the
// non-finite values NaN, Infinity, so those are written by hand.
function writeNumber(x) {
  if (Number.isFinite(x)) return Object.is(x, -0) ? '-0' : String(x);
  return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
}

function writeValue(v) {
  if (Array.isArray(v)) return `tuple ${v.length} ${v.map(writeValue).join(' ')}`;
  const entries = Array.from(v.data, writeNumber);
  return [v.kind, v.shape.length, ...v.shape, ...entries].join(' ');
}

// Answer each request in order; an exception of the port is the call's error.
function serve(port) {
  process.stdout.write(`mnistref-exec 1 ${Object.keys(port).join(' ')}\n`);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const tokens = line.split(' '), at = { i: 1 }, args = [];
    let answer;
    try {
      if (!Object.hasOwn(port, tokens[0])) throw new Error(`no function ${tokens[0]}`);
      while (at.i < tokens.length) args.push(readValue(tokens, at));
      answer = `ok ${writeValue(port[tokens[0]](...args))}`;
    } catch (e) {
      answer = `error ${String(e.message).replace(/\s+/g, ' ')}`;
    }
    process.stdout.write(`${answer}\n`);
  });
}

// ---- Arrays -----------------------------------------------------------------------------

const KIND_OF_DTYPE = { float64: 'f64', float32: 'f32' };
// The dtype's smallest normal number (spec/semantics.md, "tiny").
const TINY = { f64: 2.2250738585072014e-308, f32: 1.1754943508222875e-38 };

// Math.fround rounds an f64 operation's result to binary32; binary64 needs nothing.
const rounding = (kind) => (kind === 'f32' ? Math.fround : (x) => x);

const zeros = (kind, shape) => ({
  kind, shape, data: new STORAGE[kind](shape.reduce((n, d) => n * d, 1)),
});
const scalar = (kind, x) => ({ kind, shape: [], data: STORAGE[kind].of(x) });
// The same values in another kind: every entry rounded once.
const cast = (A, kind) => ({ kind, shape: A.shape, data: STORAGE[kind].from(A.data) });

// f applied to each entry and its flat index (or to the entries of A and B at the same
// place), in A's shape and kind.
function map(A, f) {
  const C = zeros(A.kind, A.shape);
  for (let k = 0; k < C.data.length; k++) C.data[k] = f(A.data[k], k);
  return C;
}
function map2(A, B, f) {
  const C = zeros(A.kind, A.shape);
  for (let k = 0; k < C.data.length; k++) C.data[k] = f(A.data[k], B.data[k]);
  return C;
}

const divide = (A, m) => map(A, (a) => a / m);

function transpose(A) {
  const [m, n] = A.shape, T = zeros(A.kind, [n, m]);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) T.data[j * m + i] = A.data[i * n + j];
  return T;
}

// The product of A (m, n) and B (n, p): each product is rounded, and each partial sum is
// rounded by its store into C.
function matmul(A, B) {
  const [m, n] = A.shape, p = B.shape[1], r = rounding(A.kind);
  const C = zeros(A.kind, [m, p]);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < n; k++) {
      const a = A.data[i * n + k];
      for (let j = 0; j < p; j++) C.data[i * p + j] += r(a * B.data[k * p + j]);
    }
  }
  return C;
}

// b added to every row of Z.
const addBias = (Z, b) => map(Z, (z, k) => z + b.data[k % b.data.length]);

// The sums of a 2-D array over axis 0 (down each column, shape (n,)) or 1 (along each row).
function sum(A, axis) {
  const [m, n] = A.shape, S = zeros(A.kind, [axis === 0 ? n : m]);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) S.data[axis === 0 ? j : i] += A.data[i * n + j];
  return S;
}

// The index of the largest entry along the axis of a 2-D array, the first one on a tie.
function argmax(A, axis) {
  const [m, n] = A.shape, at = (i, j) => A.data[axis === 1 ? i * n + j : j * n + i];
  const [outer, inner] = axis === 1 ? [m, n] : [n, m];
  const best = zeros('i64', [outer]);
  for (let i = 0; i < outer; i++) for (let j = 1; j < inner; j++) if (at(i, j) > at(i, best.data[i])) best.data[i] = j;
  return best;
}

// A seeded source of N(0, 1) draws: sfc32 (Chris Doty-Humphrey's Small Fast Counting
// generator, from PractRand) for uniform bits, the Box-Muller transform for normal pairs.
function gaussian(seed) {
  let a = 0x9e3779b9, b = seed >>> 0, c = Math.floor(seed / 2 ** 32) >>> 0, d = 1;
  const bits = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = ((c << 21) | (c >>> 11)) + t | 0;
    return t >>> 0;
  };
  for (let k = 0; k < 15; k++) bits(); // mix the seed through the state
  const uniform = () => ((bits() >>> 5) * 2 ** 26 + (bits() >>> 6)) / 2 ** 53; // [0, 1)
  let spare = null;
  return () => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - uniform())), angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

// A float64 array of the shape, of N(0, std^2) draws in row-major order.
const draw = (normal, shape, std) => map(zeros('f64', shape), () => std * normal());

// ---- The network: one function per equation, under the interface's names --------------

const port = {};

// Eq. (1)-(2): W ~ N(0, 0.01), the variance, so the standard deviation is 0.1; b = 0.
// W1 is drawn before W2 from one generator, in float64, then rounded once to the dtype.
const STD = 0.1;
port.init = (seed, n_in, n_hidden, n_out, dtype) => {
  const kind = KIND_OF_DTYPE[dtype], normal = gaussian(seed);
  const W1 = cast(draw(normal, [n_in, n_hidden], STD), kind);
  const b1 = zeros(kind, [n_hidden]);
  const W2 = cast(draw(normal, [n_hidden, n_out], STD), kind);
  const b2 = zeros(kind, [n_out]);
  return [W1, b1, W2, b2];
};
// One layer alone: the other layer of init is empty, so nothing is drawn for it.
port.init_W1_b1 = (seed, n_in, n_hidden, dtype) => port.init(seed, n_in, n_hidden, 0, dtype).slice(0, 2);
port.init_W2_b2 = (seed, n_hidden, n_out, dtype) => port.init(seed, 0, n_hidden, n_out, dtype).slice(2);

// Eq. (3): ReLU(z) = max(0, z); Math.max orders -0 below +0, so ReLU(-0) = +0.
port.relu = (Z) => map(Z, (z) => Math.max(0, z));

// Eq. (4): softmax over the last axis, shifted by each row's maximum c so that no exponent
// is positive: exp(z_i - c) / sum_j exp(z_j - c).
port.softmax = (Z) => {
  const r = rounding(Z.kind), K = Z.shape[Z.shape.length - 1], m = Z.data.length / K;
  const A = zeros(Z.kind, Z.shape), s = new STORAGE[Z.kind](m);
  for (let i = 0; i < m; i++) {
    const c = Math.max(...Z.data.subarray(i * K, (i + 1) * K));
    for (let j = 0; j < K; j++) A.data[i * K + j] = Math.exp(r(Z.data[i * K + j] - c));
    for (let j = 0; j < K; j++) s[i] += A.data[i * K + j];
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < K; j++) A.data[i * K + j] /= s[i];
  return A;
};

// Eq. (5): Z1 = X W1 + b1.
port.Z1 = (X, W1, b1) => addBias(matmul(X, W1), b1);
// Eq. (6): A1 = ReLU(Z1).
port.A1 = (Z1) => port.relu(Z1);
// Eq. (7): Z2 = A1 W2 + b2.
port.Z2 = (A1, W2, b2) => addBias(matmul(A1, W2), b2);
// Eq. (8): A2 = softmax(Z2), row by row.
port.A2 = (Z2) => port.softmax(Z2);

port.forward = ([W1, b1, W2, b2], X) => {
  const Z1 = port.Z1(X, W1, b1);
  const A1 = port.A1(Z1);
  const Z2 = port.Z2(A1, W2, b2);
  const A2 = port.A2(Z2);
  return [Z1, A1, Z2, A2];
};

// Eq. (9): L = -(1/m) sum_i sum_j Y_ij log A2_ij. A probability below tiny (underflowed)
// is read as tiny, so that Y_ij = 0 terms are 0 and the loss stays finite.
port.loss = (Y, A2) => {
  const r = rounding(A2.kind), tiny = TINY[A2.kind];
  let L = 0;
  for (let k = 0; k < Y.data.length; k++) L = r(L + r(Y.data[k] * r(Math.log(Math.max(A2.data[k], tiny)))));
  return scalar(A2.kind, -L / A2.shape[0]);
};

// Eq. (10): dZ2 = A2 - Y (m times the gradient of the mean loss: the 1/m comes in (11)).
port.dZ2 = (A2, Y) => map2(A2, Y, (a, y) => a - y);
// Eq. (11): dW2 = (1/m) A1^T dZ2.
port.dW2 = (A1, dZ2) => divide(matmul(transpose(A1), dZ2), A1.shape[0]);
// Eq. (12): db2 = (1/m) sum_i dZ2[i, :], a vector of shape (K,).
port.db2 = (dZ2) => divide(sum(dZ2, 0), dZ2.shape[0]);
// Eq. (13): dA1 = dZ2 W2^T (no average).
port.dA1 = (dZ2, W2) => matmul(dZ2, transpose(W2));
// Eq. (14): ReLU'(z) = 1 for z > 0, 0 for z <= 0 (the subgradient 0 at the kink).
port.relu_prime = (Z) => map(Z, (z) => (z > 0 ? 1 : 0));
// Eq. (14): dZ1 = dA1 * ReLU'(Z1), elementwise.
port.dZ1 = (dA1, Z1) => map2(dA1, port.relu_prime(Z1), (g, d) => g * d);
// Eq. (15): dW1 = (1/m) X^T dZ1.
port.dW1 = (X, dZ1) => divide(matmul(transpose(X), dZ1), X.shape[0]);
// Eq. (16): db1 = (1/m) sum_i dZ1[i, :].
port.db1 = (dZ1) => divide(sum(dZ1, 0), dZ1.shape[0]);

port.grads = ([, , W2], X, Y, [Z1, A1, , A2]) => {
  const dZ2 = port.dZ2(A2, Y);
  const dW2 = port.dW2(A1, dZ2);
  const db2 = port.db2(dZ2);
  const dA1 = port.dA1(dZ2, W2);
  const dZ1 = port.dZ1(dA1, Z1);
  const dW1 = port.dW1(X, dZ1);
  const db1 = port.db1(dZ1);
  return [dW1, db1, dW2, db2];
};

// Eq. (17)-(20): P <- P - lr dP, a new array; lr is used in the parameters' dtype.
function descend(P, dP, lr) {
  const r = rounding(P.kind), alpha = r(lr);
  return map2(P, dP, (p, g) => p - r(alpha * g));
}
port.update_W1 = (W1, dW1, lr) => descend(W1, dW1, lr); // Eq. (17)
port.update_b1 = (b1, db1, lr) => descend(b1, db1, lr); // Eq. (18)
port.update_W2 = (W2, dW2, lr) => descend(W2, dW2, lr); // Eq. (19)
port.update_b2 = (b2, db2, lr) => descend(b2, db2, lr); // Eq. (20)

// All four updates use the gradients of the parameters before the step.
port.update = ([W1, b1, W2, b2], grads, lr) => {
  const [dW1, db1, dW2, db2] = grads;
  return [port.update_W1(W1, dW1, lr), port.update_b1(b1, db1, lr),
    port.update_W2(W2, dW2, lr), port.update_b2(b2, db2, lr)];
};

// The (m, K) one-hot encoding of integer labels (section 2 of the paper).
port.one_hot = (y, K, dtype) => {
  const Y = zeros(KIND_OF_DTYPE[dtype], [y.data.length, K]);
  y.data.forEach((label, i) => { Y.data[i * K + label] = 1; });
  return Y;
};

// The class of each sample: the argmax of its row of A2 (eq. (8)), the lowest on a tie.
port.predict = (params, X) => argmax(port.forward(params, X)[3], 1);

// Eq. (21): accuracy = 100 x (correct predictions) / (predictions), in percent.
port.accuracy = (y, y_pred) => {
  const correct = y.data.filter((label, i) => label === y_pred.data[i]).length;
  return scalar('f64', (100 * correct) / y.data.length);
};

serve(port);
