# Declaration of funcs.py (CodeingersCat/nn-from-scratch, MIT; see ORIGIN.md) for mnistref.
import funcs
from mnistref.conformance import declare

mnistref_port = declare(
    funcs, layout="columns", weights="out_in", biases="column", rng="global",
    init="init_params() -> W1, b1, W2, b2", relu="ReLU(Z)", relu_prime="ReLU_deriv(Z)",
    softmax="softmax(Z)", one_hot="one_hot(y) -> Y",
    forward="forward_prop(W1, b1, W2, b2, X) -> Z1, A1, Z2, A2",
    grads="backward_prop(Z1, A1, Z2, A2, W1, W2, X, y) -> dW1, db1, dW2, db2",
    update="update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, alpha) -> W1, b1, W2, b2")
