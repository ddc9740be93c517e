package io.deepshard.core.transform;

import java.io.Serializable;

/** Eigenvalues (descending) and eigenvectors (rows) of the training split's channel covariance, for PCA noise. */
public record ColorPca(double[] values, double[][] vectors) implements Serializable {
    public int channels() { return values.length; }

    public static ColorPca of(ChannelStats stats) {
        int n = stats.channels();
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a[i][j] = stats.covariance(i, j);
        return jacobi(a);
    }

    /** Cyclic Jacobi eigen-decomposition of a small symmetric matrix. */
    static ColorPca jacobi(double[][] m) {
        int n = m.length;
        double[][] a = new double[n][], v = new double[n][n];
        for (int i = 0; i < n; i++) { a[i] = m[i].clone(); v[i][i] = 1; }
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            for (int p = 0; p < n; p++) for (int q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
            if (off < 1e-30) break;
            for (int p = 0; p < n; p++) {
                for (int q = p + 1; q < n; q++) {
                    if (Math.abs(a[p][q]) < 1e-300) continue;
                    double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++) {
                        double akp = a[k][p], akq = a[k][q];
                        a[k][p] = c * akp - s * akq;
                        a[k][q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++) {
                        double apk = a[p][k], aqk = a[q][k];
                        a[p][k] = c * apk - s * aqk;
                        a[q][k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++) {
                        double vkp = v[k][p], vkq = v[k][q];
                        v[k][p] = c * vkp - s * vkq;
                        v[k][q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        java.util.Arrays.sort(idx, (x, y) -> Double.compare(a[y][y], a[x][x]));
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int i = 0; i < n; i++) {
            values[i] = Math.max(0, a[idx[i]][idx[i]]);
            for (int k = 0; k < n; k++) vectors[i][k] = v[k][idx[i]];
        }
        return new ColorPca(values, vectors);
    }
}
