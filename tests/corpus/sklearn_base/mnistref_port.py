# Declaration of _base.py (scikit-learn, BSD-3-Clause; see ORIGIN.md) for mnistref.
import _base
from mnistref.conformance import declare

mnistref_port = declare(
    _base, in_place=True, relu="inplace_relu(Z1) -> Z1", softmax="inplace_softmax(Z2) -> Z2",
    dZ1="inplace_relu_derivative(A1, dA1) -> dA1", loss="log_loss(Y, A2)")
