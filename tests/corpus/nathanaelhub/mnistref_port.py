# Declaration of nn/ (nathanaelhub/mnist-numpy-nn, MIT; see ORIGIN.md) for mnistref.
import nn
from mnistref.conformance import declare

mnistref_port = declare(
    nn, biases="row", in_place=True, init="new", obj="Network().add(Dense(n_in, n_hidden, "
    "seed=seed)).add(Activation('relu')).add(Dense(n_hidden, n_out, seed=seed))"
    ".add(Activation('softmax')).compile(CrossEntropy(), SGD(lr))",
    state=dict(W1="layers[0].W", b1="layers[0].b", W2="layers[2].W", b2="layers[2].b",
               Z1="layers[0].output", A1="layers[1].output", Z2="layers[2].output",
               dW1="layers[0].dW", db1="layers[0].db", dW2="layers[2].dW", db2="layers[2].db"),
    forward="forward(X) -> A2", loss="loss.forward(A2, Y)", predict="predict_classes(X)",
    grads="forward(X); backward(loss.backward(layers[3].output, Y))",
    update="optimizer.step(layers)")
