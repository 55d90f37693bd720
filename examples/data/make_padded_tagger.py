"""The data of examples/padded_tagger.lua: sentences of 3 to 10 words from a
small grammar, each word a token id (0 is padding), tagged per word
DET=1 ADJ=2 NOUN=3 VERB=4 ADP=5 (0 on padding, which the mask leaves out).
Some words are both a noun and a verb ("saw", "walks", "watch", "runs"): the
tag depends on the words around them. Written once with numpy (seed 1);
the .npy files are committed. Run: python3 make_padded_tagger.py"""
import numpy as np

T = 10
DET, ADJ, NOUN, VERB, ADP = 1, 2, 3, 4, 5
words = {
    DET: ["the", "a", "every"],
    ADJ: ["old", "small", "red", "quiet"],
    NOUN: ["dog", "man", "tree", "house", "saw", "walks", "watch", "runs", "park"],
    VERB: ["sees", "saw", "walks", "watch", "runs", "likes"],
    ADP: ["in", "near", "with"],
}
vocab = ["<pad>"]
for tag in (DET, ADJ, NOUN, VERB, ADP):
    for w in words[tag]:
        if w not in vocab:
            vocab.append(w)
rng = np.random.default_rng(1)


def pick(tag):
    return (words[tag][rng.integers(len(words[tag]))], tag)


def noun_phrase():
    out = [pick(DET)]
    if rng.random() < 0.4:
        out.append(pick(ADJ))
    out.append(pick(NOUN))
    return out


def sentence():
    s = noun_phrase() + [pick(VERB)]
    if rng.random() < 0.7:
        s += noun_phrase()
    if rng.random() < 0.4 and len(s) <= T - 4:
        s += [pick(ADP)] + noun_phrase()
    return s[:T]


def encode(sentences):
    x = np.zeros((len(sentences), T), dtype=np.int32)
    y = np.zeros((len(sentences), T), dtype=np.int32)
    for i, s in enumerate(sentences):
        for t, (w, tag) in enumerate(s):
            x[i, t] = vocab.index(w)
            y[i, t] = tag
    return x, y


train = [sentence() for _ in range(512)]
x, y = encode(train)
np.save("padded_tagger_x.npy", x)
np.save("padded_tagger_y.npy", y)
demo = [[("the", DET), ("man", NOUN), ("saw", VERB), ("a", DET), ("dog", NOUN)],
        [("the", DET), ("saw", NOUN), ("runs", VERB)],
        [("a", DET), ("small", ADJ), ("dog", NOUN), ("walks", VERB), ("in", ADP), ("the", DET), ("park", NOUN)]]
dx, dy = encode(demo)
np.save("padded_tagger_demo_x.npy", dx)
np.save("padded_tagger_demo_y.npy", dy)
print(len(vocab), "tokens:", " ".join(vocab))
print("lengths", np.bincount((x != 0).sum(1)))
