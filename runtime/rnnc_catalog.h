/* rnnc's vocabularies as X-macro lists. Written by generator/catalog_c.lua from
 * generator/catalog.lua (make catalog): edit the catalog, not this file.
 *
 * A list RNNC_THINGS(X) expands X(...) once per entry; rnnc.h makes the
 * enums of them, the runtime its dispatch and names, the driver its options
 * and usage text, the reference runtime its parser. */
#ifndef RNNC_CATALOG_H
#define RNNC_CATALOG_H

/* Optimizers: X(id, NAME, name, "Class"): RNNC_OPT_NAME = id; the update rule
 * is step_name in optim_impl.h. */
#define RNNC_OPTIMIZERS(X)                                                                         \
  X(1, SGD, sgd, "SGD")                                                                            \
  X(2, ADAM, adam, "Adam")                                                                         \
  X(3, RMSPROP, rmsprop, "RMSprop")                                                                \
  X(4, ADAMW, adamw, "AdamW")                                                                      \
  X(5, ADAGRAD, adagrad, "Adagrad")                                                                \
  X(6, NADAM, nadam, "Nadam")                                                                      \
  X(7, ADAMAX, adamax, "Adamax")                                                                   \
  X(8, ADADELTA, adadelta, "Adadelta")                                                             \
  X(9, FTRL, ftrl, "Ftrl")                                                                         \
  X(10, LION, lion, "Lion")

/* rnnc_optimizer's fields after `kind`, in order: X(type, field, "option", flag,
 * "doc"); option is the driver's --option, flag 1 for an int that is 0 or 1. */
#define RNNC_OPTIMIZER_FIELDS(X)                                                                   \
  X(double, learning_rate, "learning-rate", 0, "SGD 0.01, the others 0.001")                       \
  X(double, momentum, "momentum", 0, "SGD, RMSprop")                                               \
  X(int, nesterov, "nesterov", 1, "SGD")                                                           \
  X(double, beta_1, "beta-1", 0, "Adam, AdamW")                                                    \
  X(double, beta_2, "beta-2", 0, "Adam, AdamW")                                                    \
  X(double, epsilon, "epsilon", 0, "1e-7")                                                         \
  X(double, rho, "rho", 0, "RMSprop")                                                              \
  X(int, centered, "centered", 1, "RMSprop")                                                       \
  X(int, legacy_epsilon, "legacy-epsilon", 1,                                                      \
    "RMSprop: 1 = tf.keras <= 2.10's lr g / (sqrt(s) + eps); 0 = lr g / sqrt(s + eps)")            \
  X(int, amsgrad, "amsgrad", 1, "Adam, AdamW")                                                     \
  X(double, weight_decay, "weight-decay", 0, "AdamW: w -= lr weight_decay w before the Adam step") \
  X(double, initial_accumulator_value, "initial-accumulator-value", 0, "Adagrad")                  \
  X(double, clipnorm, "clipnorm", 0,                                                               \
    "> 0: each weight tensor's gradient scaled to this norm at most")                              \
  X(double, clipvalue, "clipvalue", 0,                                                             \
    "> 0: every gradient value clipped to [-clipvalue, clipvalue]")                                \
  X(double, global_clipnorm, "global-clipnorm", 0,                                                 \
    "> 0: all gradients scaled together to this norm")                                             \
  X(double, decay_steps, "decay-steps", 0,                                                         \
    "ExponentialDecay when > 0: lr = learning_rate decay_rate ^ (i / decay_steps)")                \
  X(double, decay_rate, "decay-rate", 0, "ExponentialDecay's rate")                                \
  X(int, staircase, "staircase", 1, "ExponentialDecay: the exponent floored")                      \
  X(double, learning_rate_power, "learning-rate-power", 0, "Ftrl: -0.5")                           \
  X(double, l1_regularization_strength, "l1-regularization-strength", 0, "Ftrl")                   \
  X(double, l2_regularization_strength, "l2-regularization-strength", 0, "Ftrl")                   \
  X(double, l2_shrinkage_regularization_strength, "l2-shrinkage-regularization-strength", 0,       \
    "Ftrl")                                                                                        \
  X(double, beta, "beta", 0, "Ftrl")                                                               \
  X(int, schedule, "schedule", 0,                                                                  \
    "the learning-rate schedule: 0 none (ExponentialDecay when decay_steps > 0), 1 "               \
    "ExponentialDecay, 2 PiecewiseConstantDecay, 3 InverseTimeDecay, 4 PolynomialDecay, 5 "        \
    "CosineDecay, 6 CosineDecayRestarts")                                                          \
  X(double, end_learning_rate, "end-learning-rate", 0, "PolynomialDecay")                          \
  X(double, power, "power", 0, "PolynomialDecay")                                                  \
  X(int, cycle, "cycle", 1, "PolynomialDecay")                                                     \
  X(double, alpha, "alpha", 0,                                                                     \
    "CosineDecay, CosineDecayRestarts: the floor, a fraction of the initial rate")                 \
  X(double, warmup_target, "warmup-target", 0,                                                     \
    "CosineDecay: the rate warmup_steps reach (the initial rate without warmup)")                  \
  X(double, warmup_steps, "warmup-steps", 0, "CosineDecay")                                        \
  X(double, t_mul, "t-mul", 0, "CosineDecayRestarts: each period this times the last")             \
  X(double, m_mul, "m-mul", 0, "CosineDecayRestarts: each restart's rate this times the last")

/* PiecewiseConstantDecay's boundaries at most (rnnc_optimizer.boundaries). */
#define RNNC_MAX_BOUNDARIES 16

/* Keras's defaults, the fields not listed 0: X(NAME, field, value). */
#define RNNC_OPTIMIZER_DEFAULTS(X)                                                                 \
  X(SGD, learning_rate, 0.01)                                                                      \
  X(ADAM, learning_rate, 0.001)                                                                    \
  X(ADAM, beta_1, 0.9)                                                                             \
  X(ADAM, beta_2, 0.999)                                                                           \
  X(ADAM, epsilon, 1e-07)                                                                          \
  X(RMSPROP, learning_rate, 0.001)                                                                 \
  X(RMSPROP, epsilon, 1e-07)                                                                       \
  X(RMSPROP, rho, 0.9)                                                                             \
  X(ADAMW, learning_rate, 0.001)                                                                   \
  X(ADAMW, beta_1, 0.9)                                                                            \
  X(ADAMW, beta_2, 0.999)                                                                          \
  X(ADAMW, epsilon, 1e-07)                                                                         \
  X(ADAMW, weight_decay, 0.004)                                                                    \
  X(ADAGRAD, learning_rate, 0.001)                                                                 \
  X(ADAGRAD, epsilon, 1e-07)                                                                       \
  X(ADAGRAD, initial_accumulator_value, 0.1)                                                       \
  X(NADAM, learning_rate, 0.001)                                                                   \
  X(NADAM, beta_1, 0.9)                                                                            \
  X(NADAM, beta_2, 0.999)                                                                          \
  X(NADAM, epsilon, 1e-07)                                                                         \
  X(ADAMAX, learning_rate, 0.001)                                                                  \
  X(ADAMAX, beta_1, 0.9)                                                                           \
  X(ADAMAX, beta_2, 0.999)                                                                         \
  X(ADAMAX, epsilon, 1e-07)                                                                        \
  X(ADADELTA, learning_rate, 0.001)                                                                \
  X(ADADELTA, epsilon, 1e-07)                                                                      \
  X(ADADELTA, rho, 0.95)                                                                           \
  X(FTRL, learning_rate, 0.001)                                                                    \
  X(FTRL, initial_accumulator_value, 0.1)                                                          \
  X(FTRL, learning_rate_power, -0.5)                                                               \
  X(LION, learning_rate, 0.001)                                                                    \
  X(LION, beta_1, 0.9)                                                                             \
  X(LION, beta_2, 0.99)

/* State, reals per parameter: X(NAME, count, condition on `opt`), counted when
 * the condition holds; the slots are in this order. */
#define RNNC_OPTIMIZER_SLOTS(X)                                                                    \
  X(SGD, 1, opt->momentum != 0)                                                                    \
  X(ADAM, 2, 1)                                                                                    \
  X(ADAM, 1, opt->amsgrad)                                                                         \
  X(RMSPROP, 1, 1)                                                                                 \
  X(RMSPROP, 1, opt->momentum > 0)                                                                 \
  X(RMSPROP, 1, opt->centered)                                                                     \
  X(ADAMW, 2, 1)                                                                                   \
  X(ADAMW, 1, opt->amsgrad)                                                                        \
  X(ADAGRAD, 1, 1)                                                                                 \
  X(NADAM, 2, 1)                                                                                   \
  X(ADAMAX, 2, 1)                                                                                  \
  X(ADADELTA, 2, 1)                                                                                \
  X(FTRL, 2, 1)                                                                                    \
  X(LION, 1, 1)

/* Losses: X(id, NAME, name, "name", "aliases", labels, "fused", logits):
 * RNNC_LOSS_NAME = id; its rule is row_name in loss_impl.h; labels 1 when
 * the targets are class indices; fused the output activation Keras computes
 * it from the logits of; logits 1 when it has a from-logits form. */
#define RNNC_LOSSES(X)                                                                             \
  X(1, MSE, mse, "mse", "mean_squared_error MSE MeanSquaredError", 0, "", 0)                       \
  X(2, SPARSE_CATEGORICAL_CROSSENTROPY, sparse_categorical_crossentropy,                           \
    "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy", 1, "softmax", 1)           \
  X(3, MAE, mae, "mae", "mean_absolute_error MAE MeanAbsoluteError", 0, "", 0)                     \
  X(4, BINARY_CROSSENTROPY, binary_crossentropy, "binary_crossentropy",                            \
    "bce BCE BinaryCrossentropy", 0, "sigmoid", 1)                                                 \
  X(5, CATEGORICAL_CROSSENTROPY, categorical_crossentropy, "categorical_crossentropy",             \
    "CategoricalCrossentropy", 0, "softmax", 1)                                                    \
  X(6, HUBER, huber, "huber", "huber_loss Huber", 0, "", 0)                                        \
  X(7, LOG_COSH, log_cosh, "log_cosh", "logcosh LogCosh", 0, "", 0)                                \
  X(8, MAPE, mape, "mape", "mean_absolute_percentage_error MAPE MeanAbsolutePercentageError", 0,   \
    "", 0)                                                                                         \
  X(9, MSLE, msle, "msle", "mean_squared_logarithmic_error MSLE MeanSquaredLogarithmicError", 0,   \
    "", 0)                                                                                         \
  X(10, KL_DIVERGENCE, kl_divergence, "kl_divergence",                                             \
    "kld KLD kullback_leibler_divergence KLDivergence", 0, "", 0)                                  \
  X(11, POISSON, poisson, "poisson", "Poisson", 0, "", 0)                                          \
  X(12, HINGE, hinge, "hinge", "Hinge", 0, "", 0)                                                  \
  X(13, SQUARED_HINGE, squared_hinge, "squared_hinge", "SquaredHinge", 0, "", 0)                   \
  X(14, CATEGORICAL_HINGE, categorical_hinge, "categorical_hinge", "CategoricalHinge", 0, "", 0)   \
  X(15, COSINE_SIMILARITY, cosine_similarity, "cosine_similarity", "CosineSimilarity", 0, "", 0)

/* rnnc_loss_config's parameters after kind and from_logits: X(field, default,
 * "doc"). */
#define RNNC_LOSS_PARAMS(X)                                                                        \
  X(label_smoothing, 0.0, "binary and categorical crossentropy: y (1 - s) + s / classes")          \
  X(delta, 1.0, "huber: quadratic where |e| <= delta")

/* Metrics: X(NAME, "name", "aliases", labels); accuracy is Keras's, the variant
 * chosen from the loss; labels 1 when it takes class labels. */
#define RNNC_METRICS(X)                                                                            \
  X(ACCURACY, "accuracy", "acc", 0)                                                                \
  X(SPARSE_CATEGORICAL_ACCURACY, "sparse_categorical_accuracy", "", 1)                             \
  X(CATEGORICAL_ACCURACY, "categorical_accuracy", "", 0)                                           \
  X(BINARY_ACCURACY, "binary_accuracy", "", 0)                                                     \
  X(MAE, "mae", "mean_absolute_error MAE", 0)                                                      \
  X(MSE, "mse", "mean_squared_error MSE", 0)                                                       \
  X(ROOT_MEAN_SQUARED_ERROR, "root_mean_squared_error", "RootMeanSquaredError", 0)                 \
  X(MAPE, "mape", "mean_absolute_percentage_error MAPE MeanAbsolutePercentageError", 0)            \
  X(TOP_K_CATEGORICAL_ACCURACY, "top_k_categorical_accuracy", "TopKCategoricalAccuracy", 0)        \
  X(SPARSE_TOP_K_CATEGORICAL_ACCURACY, "sparse_top_k_categorical_accuracy",                        \
    "SparseTopKCategoricalAccuracy", 1)                                                            \
  X(PRECISION, "precision", "Precision", 0)                                                        \
  X(RECALL, "recall", "Recall", 0)                                                                 \
  X(AUC, "auc", "AUC", 0)

/* Activations: X(NAME, "name", elementwise); softmax acts on a row. */
#define RNNC_ACTIVATIONS(X)                                                                        \
  X(LINEAR, "linear", 1)                                                                           \
  X(RELU, "relu", 1)                                                                               \
  X(TANH, "tanh", 1)                                                                               \
  X(SIGMOID, "sigmoid", 1)                                                                         \
  X(SOFTMAX, "softmax", 0)                                                                         \
  X(HARD_SIGMOID, "hard_sigmoid", 1)                                                               \
  X(HARD_SIGMOID_KERAS2, "hard_sigmoid_keras2", 1)                                                 \
  X(ELU, "elu", 1)                                                                                 \
  X(SELU, "selu", 1)                                                                               \
  X(GELU, "gelu", 1)                                                                               \
  X(GELU_APPROXIMATE, "gelu_approximate", 1)                                                       \
  X(SWISH, "swish", 1)                                                                             \
  X(SILU, "silu", 1)                                                                               \
  X(SOFTPLUS, "softplus", 1)                                                                       \
  X(SOFTSIGN, "softsign", 1)                                                                       \
  X(EXPONENTIAL, "exponential", 1)                                                                 \
  X(LEAKY_RELU, "leaky_relu", 1)                                                                   \
  X(RELU6, "relu6", 1)                                                                             \
  X(MISH, "mish", 1)                                                                               \
  X(HARD_SILU, "hard_silu", 1)                                                                     \
  X(HARD_SWISH, "hard_swish", 1)                                                                   \
  X(LOG_SOFTMAX, "log_softmax", 0)

/* Initializers: X(id, NAME, "name", "doc"): RNNC_INIT_NAME = id. */
#define RNNC_INITIALIZERS(X)                                                                       \
  X(0, ZEROS, "zeros", "0")                                                                        \
  X(1, ONES, "ones", "1")                                                                          \
  X(2, GLOROT_UNIFORM, "glorot_uniform", "U(-l, l), l = sqrt(6 / (fan_in + fan_out))")             \
  X(3, ORTHOGONAL, "orthogonal",                                                                   \
    "an orthogonal matrix (Q of a normal matrix's QR, signs of diag(R))")                          \
  X(4, UNIT_FORGET_BIAS, "unit_forget_bias",                                                       \
    "LSTM bias: zeros with the forget block (second quarter) = 1")                                 \
  X(5, GLOROT_NORMAL, "glorot_normal",                                                             \
    "truncated normal, stddev sqrt(2 / (fan_in + fan_out)) / .8796")                               \
  X(6, HE_UNIFORM, "he_uniform", "U(-l, l), l = sqrt(6 / fan_in)")                                 \
  X(7, HE_NORMAL, "he_normal", "truncated normal, stddev sqrt(2 / fan_in) / .8796")                \
  X(8, LECUN_UNIFORM, "lecun_uniform", "U(-l, l), l = sqrt(3 / fan_in)")                           \
  X(9, LECUN_NORMAL, "lecun_normal", "truncated normal, stddev sqrt(1 / fan_in) / .8796")          \
  X(10, RANDOM_NORMAL, "random_normal", "N(0, 0.05^2) (Keras RandomNormal's defaults)")            \
  X(11, RANDOM_UNIFORM, "random_uniform", "U(-0.05, 0.05) (Keras RandomUniform's defaults)")

#endif
